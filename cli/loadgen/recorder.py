"""What one generator process measures, in HdrHistograms that merge exactly across processes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
"""An hour, in microseconds: any latency a run can see fits (values above are clamped to it)."""
FIGURES = 3
"""Significant figures of the run's histograms: 0.1 % value precision, as wrk2 and k6 report."""
TIMELINE_FIGURES = 2
"""Per-second histograms only draw the latency over time: 1 % precision keeps them small."""
LATE_S = 0.005
"""A send that leaves more than 5 ms after its intended time with a connection free is late: the generator's own
delay (the event loop's timer resolution is about 1 ms)."""
EXAMPLES = 3


def new_histogram(figures: int = FIGURES) -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, figures)


def record(histogram: HdrHistogram, seconds: float) -> None:
    histogram.record_value(min(max(int(seconds * 1e6), LOWEST_US), HIGHEST_US))


def encode(histogram: HdrHistogram) -> str:
    return histogram.encode().decode("ascii")


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))


@dataclass
class Second:
    """One second of the measured window (by intended send time): sends, answers, failures, latencies."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    latency: HdrHistogram = field(default_factory=lambda: new_histogram(TIMELINE_FIGURES))


@dataclass
class Recorder:
    """Counts and histograms of one process; latencies run from each request's intended send time.

    `latency` is what a user waiting on that schedule saw (the coordinated-omission-free figure); `service` runs
    from the moment the bytes were written, as a closed-loop tool would measure it.
    """

    window_start: float
    window_end: float
    latency: HdrHistogram = field(default_factory=new_histogram)
    service: HdrHistogram = field(default_factory=new_histogram)
    endpoints: dict[str, HdrHistogram] = field(default_factory=dict)
    endpoint_counts: Counter[str] = field(default_factory=Counter)
    endpoint_failures: Counter[str] = field(default_factory=Counter)
    seconds: dict[int, Second] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    sent: int = 0
    ok: int = 0
    failed: int = 0
    warmup_sent: int = 0
    warmup_failed: int = 0
    unsent: int = 0
    """Sends the schedule held that never left: the generator was so far behind that the run stopped them."""
    late: int = 0
    max_lag_s: float = 0.0
    queued: int = 0
    """Requests that waited for a free connection because every allowed connection was busy."""
    connections: int = 0
    first_send: float | None = None
    last_send: float | None = None
    cpu_s: float = 0.0
    wall_s: float = 0.0

    def measured(self, intended: float) -> bool:
        return self.window_start <= intended < self.window_end

    def queued_for_connection(self, intended: float) -> None:
        if self.measured(intended):
            self.queued += 1

    def dispatched(self, intended: float, ready: float, sent_at: float) -> None:
        """A send leaving at `sent_at`; it could have left at `ready` (its intended time, or when a connection came
        free after it), so anything after that is the generator's own lateness."""
        if not self.measured(intended):
            if intended < self.window_start:
                self.warmup_sent += 1
            return
        self.sent += 1
        self._second(intended).sent += 1
        if self.first_send is None:
            self.first_send = sent_at
        self.last_send = max(sent_at, self.last_send or sent_at)
        lag = sent_at - ready
        if lag > LATE_S:
            self.late += 1
        if lag > self.max_lag_s:
            self.max_lag_s = lag

    def succeeded(self, endpoint: str, intended: float, sent_at: float, arrived: float) -> None:
        if not self.measured(intended):
            return
        self.ok += 1
        latency = arrived - intended
        record(self.latency, latency)
        record(self.service, arrived - sent_at)
        histogram = self.endpoints.get(endpoint)
        if histogram is None:
            histogram = self.endpoints[endpoint] = new_histogram()
        record(histogram, latency)
        self.endpoint_counts[endpoint] += 1
        second = self._second(intended)
        second.ok += 1
        record(second.latency, latency)

    def failed_with(self, endpoint: str, intended: float, kind: str, detail: str) -> None:
        if not self.measured(intended):
            if intended < self.window_start:
                self.warmup_failed += 1
            return
        self.failed += 1
        self.errors[kind] += 1
        self.endpoint_counts[endpoint] += 1
        self.endpoint_failures[endpoint] += 1
        self._second(intended).failed += 1
        examples = self.examples.setdefault(kind, [])
        if len(examples) < EXAMPLES and detail and detail not in examples:
            examples.append(detail[:200])

    def _second(self, intended: float) -> Second:
        index = int(intended - self.window_start)
        second = self.seconds.get(index)
        if second is None:
            second = self.seconds[index] = Second()
        return second

    def to_json(self) -> dict[str, Any]:
        """A picklable, mergeable form: histograms encoded as HdrHistogram's compressed base64."""
        return {
            "latency": encode(self.latency),
            "service": encode(self.service),
            "endpoints": {name: encode(h) for name, h in self.endpoints.items()},
            "endpoint_counts": dict(self.endpoint_counts),
            "endpoint_failures": dict(self.endpoint_failures),
            "seconds": {
                index: {"sent": s.sent, "ok": s.ok, "failed": s.failed, "latency": encode(s.latency)}
                for index, s in self.seconds.items()
            },
            "errors": dict(self.errors),
            "examples": self.examples,
            "window_start": self.window_start,
            **{
                name: getattr(self, name)
                for name in [
                    "sent",
                    "ok",
                    "failed",
                    "warmup_sent",
                    "warmup_failed",
                    "unsent",
                    "late",
                    "max_lag_s",
                    "queued",
                    "connections",
                    "first_send",
                    "last_send",
                    "cpu_s",
                    "wall_s",
                ]
            },
        }


@dataclass
class Merged:
    """Every process's measurements added together."""

    latency: HdrHistogram
    service: HdrHistogram
    endpoints: dict[str, HdrHistogram]
    endpoint_counts: Counter[str]
    endpoint_failures: Counter[str]
    seconds: dict[int, Second]
    errors: Counter[str]
    examples: dict[str, list[str]]
    totals: Counter[str]
    """sent, ok, failed, warmup_sent, warmup_failed, unsent, late, queued, connections."""
    window_start: float
    max_lag_s: float
    first_send: float | None
    last_send: float | None
    cpu_s: list[float]
    wall_s: list[float]


SUMMED = ("sent", "ok", "failed", "warmup_sent", "warmup_failed", "unsent", "late", "queued", "connections")


def merge(parts: list[dict[str, Any]]) -> Merged:
    """Add the processes' measurements: histograms add exactly, so percentiles are those of every request."""
    merged = Merged(
        new_histogram(),
        new_histogram(),
        {},
        Counter(),
        Counter(),
        {},
        Counter(),
        {},
        Counter(),
        0.0,
        0.0,
        None,
        None,
        [],
        [],
    )
    for part in parts:
        merged.latency.add(decode(part["latency"]))
        merged.service.add(decode(part["service"]))
        for name, text in part["endpoints"].items():
            merged.endpoints.setdefault(name, new_histogram()).add(decode(text))
        merged.endpoint_counts.update(part["endpoint_counts"])
        merged.endpoint_failures.update(part["endpoint_failures"])
        for index, item in part["seconds"].items():
            second = merged.seconds.setdefault(int(index), Second())
            second.sent += item["sent"]
            second.ok += item["ok"]
            second.failed += item["failed"]
            second.latency.add(decode(item["latency"]))
        merged.errors.update(part["errors"])
        for kind, items in part["examples"].items():
            known = merged.examples.setdefault(kind, [])
            known.extend(x for x in items if x not in known and len(known) < EXAMPLES)
        merged.totals.update({name: part[name] for name in SUMMED})
        merged.max_lag_s = max(merged.max_lag_s, part["max_lag_s"])
        merged.window_start = part["window_start"]  # the same in every process: the common start plus the warm-up
        first, last = part["first_send"], part["last_send"]
        if first is not None:
            merged.first_send = first if merged.first_send is None else min(merged.first_send, first)
        if last is not None:
            merged.last_send = last if merged.last_send is None else max(merged.last_send, last)
        merged.cpu_s.append(part["cpu_s"])
        merged.wall_s.append(part["wall_s"])
    return merged
