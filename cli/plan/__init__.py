"""Offline plan of a stack: the program under a recording mock monitor, its diff and its policy checks."""
