"""Latency percentiles, throughput and histograms over the samples of a run."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

PERCENTILES = (50, 90, 95, 99)


@dataclass(slots=True)
class Sample:
    """One request: which endpoint, when it started (seconds into the run), how long it took, and how it ended."""

    endpoint: str
    started_s: float
    latency_ms: float
    failure: str | None = None
    """None on success, otherwise a failure class from `classify` (e.g. `timeout`, `http_500`)."""
    status: int | None = None
    detail: str = ""
    database_ms: float | None = None
    """The database round trip the heartbeat reported, when it did."""

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def timed(self) -> bool:
        """Whether the latency describes the service: a response arrived, or the request timed out."""
        return self.status is not None or self.failure == "timeout"


def percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence; None when it is empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Summary:
    """Counts, latency percentiles and throughput of a group of samples."""

    requests: int
    succeeded: int
    percentiles_ms: dict[int, float | None]
    max_ms: float | None
    mean_ms: float | None
    throughput_rps: float
    failures: dict[str, int]

    @property
    def failed(self) -> int:
        return self.requests - self.succeeded

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "succeeded": self.succeeded,
            "failed": self.failed,
            **{f"p{p}_ms": _round(v) for p, v in self.percentiles_ms.items()},
            "max_ms": _round(self.max_ms),
            "mean_ms": _round(self.mean_ms),
            "throughput_rps": round(self.throughput_rps, 1),
            "failures": dict(sorted(self.failures.items())),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def summarise(samples: Iterable[Sample], wall_s: float) -> Summary:
    """Percentiles over requests that got an answer or timed out; every request counts toward throughput."""
    items = list(samples)
    latencies = sorted(s.latency_ms for s in items if s.timed)
    return Summary(
        requests=len(items),
        succeeded=sum(1 for s in items if s.ok),
        percentiles_ms={p: percentile(latencies, p) for p in PERCENTILES},
        max_ms=latencies[-1] if latencies else None,
        mean_ms=sum(latencies) / len(latencies) if latencies else None,
        throughput_rps=len(items) / wall_s if wall_s > 0 else 0.0,
        failures=dict(Counter(s.failure for s in items if s.failure)),
    )


def histogram(values: Sequence[float], bins: int = 12) -> list[tuple[float, float, int]]:
    """Bins (low, high, count) covering the values; log-spaced when they span more than a decade."""
    if not values:
        return []
    low, high = min(values), max(values)
    if high <= low:
        return [(low, high, len(values))]
    if low > 0 and high / low > 10:
        ratio = (high / low) ** (1 / bins)
        edges = [low * ratio**i for i in range(bins + 1)]
    else:
        step = (high - low) / bins
        edges = [low + step * i for i in range(bins + 1)]
    edges[-1] = high
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, max(0, bisect.bisect_right(edges, value) - 1))] += 1
    return [(edges[i], edges[i + 1], counts[i]) for i in range(bins)]
