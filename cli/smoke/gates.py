"""SLO gates: which limits a run must meet, and which ones it broke."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cli.smoke.preflight import Check
from cli.smoke.stats import Summary

DEFAULT_MAX_FAILURES = 0
DEFAULT_P95_MS = 200.0


@dataclass(frozen=True)
class Gates:
    """The limits: failed requests allowed, and latency percentiles a run must stay under."""

    max_failures: int = DEFAULT_MAX_FAILURES
    p95_ms: float | None = DEFAULT_P95_MS
    p99_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"max_failures": self.max_failures, "p95_ms": self.p95_ms, "p99_ms": self.p99_ms}


@dataclass(frozen=True)
class GateResult:
    """One gate: its limit, the measured value, and whether the run met it."""

    name: str
    limit: str
    actual: str
    passed: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "limit": self.limit, "actual": self.actual, "passed": self.passed}


def _latency_gate(name: str, limit: float, value: float | None) -> GateResult:
    actual = "no timed responses" if value is None else f"{value:.1f} ms"
    return GateResult(name, f"< {limit:g} ms", actual, value is not None and value < limit)


def evaluate(gates: Gates, overall: Summary, preflight: Sequence[Check]) -> list[GateResult]:
    """Every gate, in the order the report shows them."""
    failed_checks = [c.name for c in preflight if c.failed]
    results = [
        GateResult(
            "preflight",
            "every check passes",
            "failed: " + ", ".join(failed_checks) if failed_checks else "all passed",
            not failed_checks,
        ),
        GateResult(
            "failures",
            f"<= {gates.max_failures} failed requests",
            f"{overall.failed} of {overall.requests} failed" if overall.requests else "no requests made",
            overall.requests > 0 and overall.failed <= gates.max_failures,
        ),
    ]
    if gates.p95_ms is not None:
        results.append(_latency_gate("p95", gates.p95_ms, overall.percentiles_ms.get(95)))
    if gates.p99_ms is not None:
        results.append(_latency_gate("p99", gates.p99_ms, overall.percentiles_ms.get(99)))
    return results


def deadline_gate(limit_s: float, elapsed_s: float, ran_out: str | None, progress: str = "") -> GateResult:
    """Whether the whole run ended within its deadline, and if not, in which phase it ran out."""
    if ran_out is None:
        return GateResult("deadline", f"the run ends within {limit_s:g} s", f"ended in {elapsed_s:.1f} s", True)
    actual = f"ran out during {ran_out}" + (f" ({progress})" if progress else "")
    return GateResult("deadline", f"the run ends within {limit_s:g} s", actual, False)


def checks_gate(checks: Sequence[Check]) -> list[GateResult]:
    """The backend and burst checks: none may fail (skips and warnings are allowed); no gate when none ran."""
    if not checks:
        return []
    failed = [c.name for c in checks if c.failed]
    actual = "failed: " + ", ".join(failed) if failed else "none failed"
    return [GateResult("checks", "no check fails (skipped and degraded allowed)", actual, not failed)]
