"""Gates for the tests that are not about latency: a loaded machine's slow responses must not fail them.

The latency gates themselves are tested against deliberately slow servers (test_faults.py)."""

from cli.smoke.gates import Gates

UNTIMED = Gates(p95_ms=None)
UNTIMED_FLAGS = ("--p95-ms", "600000")
"""The same for a run through the CLI (its p95 gate cannot be turned off, only set beyond any run's deadline)."""
