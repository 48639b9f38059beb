"""A load step's figures: percentiles, rates, errors by kind, the generator's own health, and the gates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from cli.core.errors import OperationFailed
from cli.loadgen.options import LoadGates, LoadOptions
from cli.loadgen.recorder import LATE_S
from cli.loadgen.runner import StepResult
from cli.smoke.gates import GateResult

PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
LATE_SHARE = 0.01
"""More than 1 % of sends late, and the generator is said to have fallen behind."""
RATE_SHORTFALL = 0.02
"""An achieved rate more than 2 % under the target is reported as missed."""
BUSY_CPU = 0.9
"""A generator process using more than 90 % of a CPU has no headroom left to keep its schedule."""
CEILING_LATE_SHARE = 0.5
"""Past this share of late sends (or with a busy CPU, or sends given up) the generator is at its ceiling: a capacity
search stops there. A generator that cannot keep up falls further behind with every send, so most are late; fewer
are a pause of the machine (another process had the CPU) that it recovered from, which the warning still names."""


def _ms(histogram: HdrHistogram, percentile: float) -> float | None:
    if histogram.get_total_count() == 0:
        return None
    return histogram.get_value_at_percentile(percentile) / 1000


def percentiles(histogram: HdrHistogram) -> dict[str, float | None]:
    """p50 ... p99.9 and max, in milliseconds (None without a timed answer)."""
    values: dict[str, float | None] = {f"p{p:g}": _ms(histogram, p) for p in PERCENTILES}
    values["max"] = histogram.get_max_value() / 1000 if histogram.get_total_count() else None
    return values


def spectrum(histogram: HdrHistogram) -> list[tuple[float, float]]:
    """(percentile, ms) points for the percentile spectrum: evenly spaced in 1/(1-p), up to the count's resolution."""
    count = histogram.get_total_count()
    if count == 0:
        return []
    points = []
    for step in range(0, 61):
        nines = step / 10  # 0, 0.1 ... 6 "nines"
        if 10**nines > count:
            break
        pct = 100 * (1 - 10**-nines)
        points.append((pct, histogram.get_value_at_percentile(pct) / 1000))
    points.append((100.0, histogram.get_max_value() / 1000))
    return points


@dataclass
class LoadSummary:
    """Everything one step found; the terminal, JSON and HTML reports are rendered from this."""

    target_url: str
    source: str
    step: StepResult
    gate_results: list[GateResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def options(self) -> LoadOptions:
        return self.step.options

    @property
    def totals(self) -> dict[str, int]:
        return dict(self.step.merged.totals)

    @property
    def requests(self) -> int:
        """Requests with an outcome in the measured window: answered, failed, or given up."""
        return self.step.merged.totals["ok"] + self.step.merged.totals["failed"]

    @property
    def error_rate(self) -> float:
        return self.step.merged.totals["failed"] / self.requests if self.requests else 0.0

    @property
    def elapsed_s(self) -> float:
        """From the window's start to just after its last send actually left (at least the asked duration)."""
        merged, options = self.step.merged, self.options
        if merged.last_send is None:
            return options.duration_s
        return max(options.duration_s, merged.last_send - merged.window_start + 1 / options.rate)

    @property
    def achieved_rate(self) -> float:
        return self.step.merged.totals["sent"] / self.elapsed_s

    @property
    def cpu_share(self) -> float:
        """The busiest generator process's CPU time over its wall time."""
        shares = [cpu / wall for cpu, wall in zip(self.step.merged.cpu_s, self.step.merged.wall_s, strict=True) if wall]
        return max(shares, default=0.0)

    @property
    def late_share(self) -> float:
        sent = self.step.merged.totals["sent"]
        return self.step.merged.totals["late"] / sent if sent else 0.0

    @property
    def generator_behind(self) -> bool:
        return bool(self.warnings)

    @property
    def generator_limited(self) -> bool:
        """The generator could not keep this rate at all (not a passing pause): its figures are not the service's."""
        return (
            self.cpu_share > BUSY_CPU or self.late_share > CEILING_LATE_SHARE or self.step.merged.totals["unsent"] > 0
        )

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gate_results)

    @property
    def broken(self) -> list[GateResult]:
        return [g for g in self.gate_results if not g.passed]

    def timeline(self) -> list[dict[str, Any]]:
        """Per second of the window: sends, answers, failures, and latency p50/p99/max (ms)."""
        rows = []
        for index in sorted(self.step.merged.seconds):
            second = self.step.merged.seconds[index]
            p = percentiles(second.latency)
            rows.append(
                {
                    "second": index,
                    "sent": second.sent,
                    "ok": second.ok,
                    "failed": second.failed,
                    "p50_ms": p["p50"],
                    "p99_ms": p["p99"],
                    "max_ms": p["max"],
                }
            )
        return rows

    def endpoints(self) -> dict[str, dict[str, Any]]:
        merged = self.step.merged
        rows = {}
        for name in sorted(merged.endpoint_counts):
            histogram = merged.endpoints.get(name)
            figures = percentiles(histogram) if histogram is not None else {}
            rows[name] = {
                "requests": merged.endpoint_counts[name],
                "failed": merged.endpoint_failures[name],
                **{f"{key}_ms": value for key, value in figures.items()},
            }
        return rows

    def to_json(self) -> dict[str, Any]:
        merged = self.step.merged
        totals = merged.totals
        return {
            "target_url": self.target_url,
            "source": self.source,
            "started_at": self.step.started_at.isoformat(timespec="seconds"),
            "options": self.options.to_json(),
            "passed": self.passed,
            "rate": {
                "target": self.options.rate,
                "achieved": round(self.achieved_rate, 3),
                "completed": round(self.requests / self.elapsed_s, 3),
            },
            "requests": {
                "sent": totals["sent"],
                "ok": totals["ok"],
                "failed": totals["failed"],
                "error_rate": self.error_rate,
                "warmup_sent": totals["warmup_sent"],
                "unsent": totals["unsent"],
                "queued": totals["queued"],
            },
            "latency_ms": percentiles(merged.latency),
            "service_time_ms": percentiles(merged.service),
            "endpoints": self.endpoints(),
            "errors": dict(merged.errors),
            "error_examples": merged.examples,
            "generator": {
                "processes": self.step.processes,
                "connections_opened": totals["connections"],
                "late_sends": totals["late"],
                "late_threshold_ms": LATE_S * 1000,
                "max_send_lag_ms": round(merged.max_lag_s * 1000, 3),
                "cpu_share": round(self.cpu_share, 3),
                "behind": self.generator_behind,
                "at_ceiling": self.generator_limited,
            },
            "warnings": self.warnings,
            "notes": self.notes,
            "gates": [g.to_json() for g in self.gate_results],
            "timeline": self.timeline(),
            "spectrum": [{"percentile": p, "ms": v} for p, v in spectrum(merged.latency)],
        }


def _latency_gate(name: str, limit: float, value: float | None) -> GateResult:
    actual = "no answered requests" if value is None else f"{value:.1f} ms"
    return GateResult(name, f"< {limit:g} ms", actual, value is not None and value < limit)


def judge_gates(gates: LoadGates, summary: LoadSummary) -> list[GateResult]:
    figures = percentiles(summary.step.merged.latency)
    results = []
    if gates.p95_ms is not None:
        results.append(_latency_gate("p95", gates.p95_ms, figures["p95"]))
    if gates.p99_ms is not None:
        results.append(_latency_gate("p99", gates.p99_ms, figures["p99"]))
    failed, requests = summary.step.merged.totals["failed"], summary.requests
    rate = summary.error_rate
    results.append(
        GateResult(
            "errors",
            f"<= {gates.max_error_rate * 100:g} % failed",
            f"{failed} of {requests} failed ({rate * 100:.3g} %)" if requests else "no requests made",
            requests > 0 and rate <= gates.max_error_rate,
        )
    )
    return results


def health(summary: LoadSummary) -> tuple[list[str], list[str]]:
    """Warnings that the generator fell behind (so the figures partly measure it), and notes about the run."""
    warnings, notes = [], []
    totals, options = summary.step.merged.totals, summary.options
    behind = []
    if summary.late_share > LATE_SHARE:
        behind.append(
            f"{summary.late_share * 100:.1f} % of sends left more than {LATE_S * 1000:g} ms after their intended time "
            f"(worst {summary.step.merged.max_lag_s * 1000:.0f} ms)"
        )
    if totals["unsent"]:
        behind.append(f"{totals['unsent']} scheduled sends never left")
    if summary.cpu_share > BUSY_CPU:
        behind.append(f"a generator process used {summary.cpu_share * 100:.0f} % of a CPU")
    if behind and summary.achieved_rate < options.rate * (1 - RATE_SHORTFALL):
        behind.append(f"the achieved rate {summary.achieved_rate:.1f}/s is under the target {options.rate:g}/s")
    if behind:
        warnings.append(
            "the generator fell behind its schedule: "
            + "; ".join(behind)
            + ". The latencies include its own delay; lower --rate, add --processes, or run it on a bigger machine"
        )
    if totals["queued"]:
        notes.append(
            f"{totals['queued']} requests waited for a free connection (all {options.connections} were busy): the "
            "service answered slower than the rate needs; the wait counts in their latency"
        )
    if totals["warmup_failed"]:
        notes.append(f"{totals['warmup_failed']} of {totals['warmup_sent']} warm-up requests failed (not counted)")
    return warnings, notes


def summarise(target_url: str, source: str, step: StepResult) -> LoadSummary:
    summary = LoadSummary(target_url, source, step)
    summary.gate_results = judge_gates(step.options.gates, summary)
    summary.warnings, summary.notes = health(summary)
    return summary


class LoadFailed(OperationFailed):
    """A load run (or capacity search) ran and its gate broke."""
