"""Thin Typer commands: parse options, call a library function, render the result."""
