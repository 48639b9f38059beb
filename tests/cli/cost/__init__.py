"""Tests of the cost estimate, its prices, deltas and budget."""
