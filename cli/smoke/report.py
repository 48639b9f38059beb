"""The outcome of a smoke run: what was checked, what was measured, and whether the gates held."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cli.core.errors import OperationFailed
from cli.smoke.gates import GateResult, Gates
from cli.smoke.preflight import Check
from cli.smoke.profiles import Profile
from cli.smoke.stats import Sample, Summary, summarise

FAILURE_EXAMPLES = 3


@dataclass
class SmokeReport:
    """Everything one run found; every output format is rendered from this."""

    target_url: str
    source: str
    started_at: datetime
    requests: int
    concurrency: int
    timeout_s: float
    writes: bool
    gates: Gates
    profile: Profile | None
    preflight: list[Check]
    samples: list[Sample]
    wall_s: float
    gate_results: list[GateResult]
    service: dict[str, Any]
    run_id: str = ""
    """Names the records the run wrote: `smoke-<run_id>-<worker>`."""
    deadline_s: float = 0.0
    """How long the whole run was allowed to take."""
    elapsed_s: float = 0.0
    """How long it took, pre-flight included."""
    ran_out: str | None = None
    """The phase the deadline ran out in (`preflight tls`, `load`, ...), or None when the run ended in time."""
    checks: list[Check] = field(default_factory=list)
    """The checks after the requests: the cache, the asynchronous path, cache reads, the burst."""
    edge: dict[str, Any] = field(default_factory=dict)
    """The stack's outputs that state the edge's per-client limit, for a run the limit refused."""

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gate_results)

    @property
    def broken(self) -> list[GateResult]:
        return [g for g in self.gate_results if not g.passed]

    @property
    def overall(self) -> Summary:
        return summarise(self.samples, self.wall_s)

    def endpoints(self) -> dict[str, Summary]:
        names = list(dict.fromkeys(s.endpoint for s in self.samples))
        return {name: summarise([s for s in self.samples if s.endpoint == name], self.wall_s) for name in names}

    def database(self) -> dict[str, Any]:
        """The database round trip the heartbeats reported."""
        values = sorted(s.database_ms for s in self.samples if s.database_ms is not None)
        if not values:
            return {"samples": 0}
        return {
            "samples": len(values),
            "p50_ms": round(statistics.median(values), 3),
            "max_ms": round(values[-1], 3),
        }

    def failure_examples(self) -> dict[str, list[str]]:
        """A few details of each failure class, endpoint first."""
        examples: dict[str, list[str]] = {}
        for sample in self.samples:
            if sample.failure:
                bucket = examples.setdefault(sample.failure, [])
                text = f"{sample.endpoint}: {sample.detail}" if sample.detail else sample.endpoint
                if len(bucket) < FAILURE_EXAMPLES and text not in bucket:
                    bucket.append(text)
        return dict(sorted(examples.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "target": {"url": self.target_url, "source": self.source},
            "started_at": self.started_at.isoformat(),
            "run_id": self.run_id,
            "settings": {
                "requests": self.requests,
                "concurrency": self.concurrency,
                "timeout_s": self.timeout_s,
                "writes": self.writes,
                "deadline_s": self.deadline_s,
                "gates": self.gates.to_json(),
            },
            "elapsed_s": round(self.elapsed_s, 4),
            "ran_out": self.ran_out,
            "profile": self.profile.to_json() if self.profile else None,
            "preflight": [c.to_json() for c in self.preflight],
            "checks": [c.to_json() for c in self.checks],
            "service": self.service,
            "wall_s": round(self.wall_s, 4),
            "overall": self.overall.to_json(),
            "endpoints": {name: summary.to_json() for name, summary in self.endpoints().items()},
            "database": self.database(),
            "failure_examples": self.failure_examples(),
            "gates": [g.to_json() for g in self.gate_results],
            "samples": [
                {
                    "endpoint": s.endpoint,
                    "started_ms": round(s.started_s * 1000, 3),
                    "latency_ms": round(s.latency_ms, 3),
                    "status": s.status,
                    "failure": s.failure,
                }
                for s in self.samples
            ],
        }


class SmokeFailed(OperationFailed):
    """The smoke check ran and a gate broke."""


def breach(report: SmokeReport, **extra: Any) -> SmokeFailed:
    """The error for a run whose gates broke; its JSON document carries the whole report."""
    names = ", ".join(g.name for g in report.broken)
    details = {"smoke": report.to_json(), **extra}
    if report.ran_out is not None:
        return SmokeFailed(
            f"smoke check against {report.target_url} failed: its deadline of {report.deadline_s:g} s ran out "
            f"during {report.ran_out} (broken: {names})",
            hint="a service that accepts connections and does not answer, or a link slower than the deadline allows; "
            "if the run needs longer, raise --deadline (or the profile's deadline_s)",
            details=details,
        )
    if not report.samples and any(c.failed for c in report.preflight):
        found = "; ".join(f"{c.name}: {c.summary}" for c in report.preflight if c.failed)
        return SmokeFailed(
            f"smoke check against {report.target_url} stopped at pre-flight, before any request: {found}",
            hint="nothing answers there: start the service (`infra status` shows the local stack's) or correct --url",
            details=details,
        )
    refused = [s for s in report.samples if s.failure == "http_429"]
    if refused:
        # The last refusal's Retry-After is the freshest word on when the limit lets this client in again.
        wait = next(
            (s.detail.rpartition("Retry-After ")[2] for s in reversed(refused) if "Retry-After " in s.detail), ""
        )
        return SmokeFailed(
            f"smoke check against {report.target_url} failed: the edge's per-client rate limit refused "
            f"{len(refused)} of {len(report.samples)} requests with 429 "
            f"({f'Retry-After {wait} s' if wait else 'no Retry-After'})",
            hint=f"{_allowance(report)}; wait {f'{wait} s ' if wait else 'a window '}before running again, or make "
            "fewer requests (--requests)",
            details=details,
        )
    return SmokeFailed(
        f"smoke check against {report.target_url} failed: {names}",
        hint="read the failures and gates above; --json prints every request, --junit and --html write reports",
        details=details,
    )


def _allowance(report: SmokeReport) -> str:
    """The edge's per-client limit as the stack's outputs state it, or where to find it."""
    from stacks import outputs as names

    limit, window = report.edge.get(names.EDGE_RATE_LIMIT), report.edge.get(names.EDGE_RATE_WINDOW_SECONDS)
    if limit in (None, "") or window in (None, ""):
        return "the edge limits requests per client (`infra outputs` shows the stack's limit)"
    return f"the edge admits {limit} requests per {window} s from one client"
