"""`--find-capacity`: raise the rate step by step until the SLO breaks, then narrow down to the highest that held."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from cli.core.errors import ConfigError
from cli.loadgen.options import LoadOptions
from cli.loadgen.report import LoadSummary, percentiles

DEFAULT_FACTOR = 2.0
DEFAULT_RESOLUTION = 0.1
"""The search stops once the rate that broke is within 10 % of the one that held."""
DEFAULT_MAX_STEPS = 12
MIN_RATE = 0.5


@dataclass(frozen=True)
class SearchOptions:
    """How the rate climbs (times `factor` per step) and how closely the search narrows the edge."""

    factor: float = DEFAULT_FACTOR
    resolution: float = DEFAULT_RESOLUTION
    max_steps: int = DEFAULT_MAX_STEPS
    tasks: int | None = None
    """The service's task count, when known: the capacity is also reported per task."""
    tasks_source: str = ""
    target_rate: float | None = None
    """A rate the service must carry: the search fails when the capacity is under it, and says the tasks it takes."""


def validate_search(search: SearchOptions) -> None:
    if not math.isfinite(search.factor) or not 1.1 <= search.factor <= 10:
        raise ConfigError(f"--step-factor {search.factor:g} is not from 1.1 to 10", hint="e.g. --step-factor 2")
    if not math.isfinite(search.resolution) or not 0.01 <= search.resolution <= 1:
        raise ConfigError(
            f"--resolution {search.resolution:g} is not a fraction from 0.01 to 1", hint="e.g. --resolution 0.1"
        )
    if not 1 <= search.max_steps <= 100:
        raise ConfigError(f"--max-steps {search.max_steps} is not from 1 to 100", hint="e.g. --max-steps 12")
    if search.tasks is not None and search.tasks < 1:
        raise ConfigError("--tasks must be at least 1", hint="the number of tasks serving the stack")
    if search.target_rate is not None and (not math.isfinite(search.target_rate) or search.target_rate <= 0):
        raise ConfigError("--target-rate must be requests per second above 0", hint="e.g. --target-rate 10000")


def _round(rate: float) -> float:
    """Three significant figures: rates people can read and repeat."""
    if rate <= 0:
        return rate
    digits = 2 - math.floor(math.log10(rate))
    return round(rate, digits) if digits > 0 else float(round(rate, digits))


@dataclass
class CapacityResult:
    """The steps run, the highest rate that held, and why the search stopped."""

    steps: list[LoadSummary]
    held: LoadSummary | None
    broke: LoadSummary | None
    search: SearchOptions
    stopped: str
    generator_limited: bool = False
    """The generator fell behind before the service broke: the capacity is at least `held`, perhaps more."""
    notes: list[str] = field(default_factory=list)

    @property
    def capacity(self) -> float | None:
        return self.held.options.rate if self.held else None

    @property
    def per_task(self) -> float | None:
        if self.capacity is None or not self.search.tasks:
            return None
        return self.capacity / self.search.tasks

    @property
    def tasks_needed(self) -> int | None:
        if self.search.target_rate is None or self.per_task is None:
            return None
        return math.ceil(self.search.target_rate / self.per_task)

    @property
    def passed(self) -> bool:
        if self.held is None:
            return False
        return self.search.target_rate is None or self.held.options.rate >= self.search.target_rate

    def to_json(self) -> dict[str, Any]:
        return {
            "capacity_rps": self.capacity,
            "broke_at_rps": self.broke.options.rate if self.broke else None,
            "tasks": self.search.tasks,
            "tasks_source": self.search.tasks_source or None,
            "per_task_rps": None if self.per_task is None else round(self.per_task, 3),
            "target_rate": self.search.target_rate,
            "tasks_needed": self.tasks_needed,
            "generator_limited": self.generator_limited,
            "stopped": self.stopped,
            "passed": self.passed,
            "notes": self.notes,
            "steps": [step_row(step) for step in self.steps],
            "held": self.held.to_json() if self.held else None,
        }


def step_row(step: LoadSummary) -> dict[str, Any]:
    """One line of the search: the rate asked and achieved, the latencies, the errors, the verdict."""
    figures = percentiles(step.step.merged.latency)
    return {
        "rate": step.options.rate,
        "achieved": round(step.achieved_rate, 3),
        "p50_ms": figures["p50"],
        "p95_ms": figures["p95"],
        "p99_ms": figures["p99"],
        "error_rate": step.error_rate,
        "held": step.passed and not step.generator_limited,
        "broken": [g.name for g in step.broken],
        "generator_behind": step.generator_behind,
        "generator_at_ceiling": step.generator_limited,
    }


def find_capacity(
    start: LoadOptions,
    search: SearchOptions,
    run: Callable[[LoadOptions], LoadSummary],
    on_step: Callable[[LoadSummary], None] = lambda step: None,
) -> CapacityResult:
    """Climb from `start.rate` by `factor` until a step breaks, then bisect between the last that held and it.

    A step holds when its gates pass and the generator kept its schedule. When the generator falls behind first,
    the search stops: what it measured past that point would be the generator's limit, not the service's.
    """
    steps: list[LoadSummary] = []
    held: LoadSummary | None = None
    broke: LoadSummary | None = None

    def step(rate: float) -> LoadSummary:
        summary = run(replace(start, rate=_round(rate)))
        steps.append(summary)
        on_step(summary)
        return summary

    rate = start.rate
    while len(steps) < search.max_steps:
        summary = step(rate)
        if summary.generator_limited:
            return _limited(steps, held, broke, search, summary)
        if summary.passed:
            held = summary
            if broke is not None:
                break
            rate *= search.factor
        else:
            broke = summary
            if held is not None:
                break
            rate /= search.factor
            if rate < MIN_RATE:
                return CapacityResult(steps, None, broke, search, f"no rate down to {MIN_RATE:g}/s held")
    else:
        return CapacityResult(steps, held, broke, search, f"the step limit ({search.max_steps}) ran out")
    while len(steps) < search.max_steps:
        low, high = held.options.rate, broke.options.rate
        if high <= low * (1 + search.resolution):
            return CapacityResult(steps, held, broke, search, f"narrowed to within {search.resolution * 100:g} %")
        middle = _round((low + high) / 2)
        if middle in (low, high):
            break
        summary = step(middle)
        if summary.generator_limited:
            return _limited(steps, held, broke, search, summary)
        if summary.passed:
            held = summary
        else:
            broke = summary
    return CapacityResult(steps, held, broke, search, f"the step limit ({search.max_steps}) ran out")


def _limited(
    steps: list[LoadSummary],
    held: LoadSummary | None,
    broke: LoadSummary | None,
    search: SearchOptions,
    summary: LoadSummary,
) -> CapacityResult:
    note = (
        f"the generator fell behind at {summary.options.rate:g}/s before the service broke: the capacity is at least "
        "the rate that held; add --processes or run the generator on a bigger machine to measure past it"
    )
    return CapacityResult(steps, held, broke, search, "the generator's own limit", True, [note])
