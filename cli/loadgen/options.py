"""What a load run is asked to do, and the SLO gates it must meet; validated before any traffic."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cli.core.errors import ConfigError
from cli.loadgen.mix import DEFAULT_MIX, mix_text, needs_token
from cli.smoke.gates import DEFAULT_P95_MS

DEFAULT_RATE = 50.0
DEFAULT_DURATION_S = 10.0
DEFAULT_WARMUP_S = 2.0
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_CONNECTIONS = 256
MAX_RATE = 1_000_000.0
MAX_DURATION_S = 3600.0
PER_PROCESS_RATE = 1000.0
"""Requests per second one generator process is given before another is added (bench/loadgen.py measures what one
process sustains on a machine); never more processes than CPUs."""
DEFAULT_MAX_ERROR_RATE = 0.0
"""As the smoke check's default (no failed request allowed); --max-error-rate sets an error budget (0.1 for 99.9 %)."""


@dataclass(frozen=True)
class LoadGates:
    """The SLO a run must meet: latency percentiles (from intended send times) and the share of failed requests."""

    p95_ms: float | None = DEFAULT_P95_MS
    p99_ms: float | None = None
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    """Failed requests over requests with an outcome, as a fraction (0.001 is 0.1 %)."""

    def to_json(self) -> dict[str, Any]:
        return {"p95_ms": self.p95_ms, "p99_ms": self.p99_ms, "max_error_rate": self.max_error_rate}


@dataclass(frozen=True)
class LoadOptions:
    """One run at a fixed arrival rate."""

    rate: float = DEFAULT_RATE
    duration_s: float = DEFAULT_DURATION_S
    warmup_s: float = DEFAULT_WARMUP_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    connections: int = DEFAULT_CONNECTIONS
    """The most connections open at once, over every process."""
    processes: int | None = None
    """Generator processes; None picks one per PER_PROCESS_RATE requests per second, up to the CPU count."""
    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_MIX))
    gates: LoadGates = field(default_factory=LoadGates)

    @property
    def process_count(self) -> int:
        if self.processes is not None:
            return self.processes
        return max(1, min(os.cpu_count() or 1, math.ceil(self.rate / PER_PROCESS_RATE)))

    def to_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "timeout_s": self.timeout_s,
            "connections": self.connections,
            "processes": self.process_count,
            "mix": dict(self.weights),
            "gates": self.gates.to_json(),
        }

    @property
    def mix(self) -> str:
        return mix_text(self.weights)


def _positive(value: float, option: str, example: str, upper: float | None = None) -> None:
    if not math.isfinite(value) or value <= 0 or (upper is not None and value > upper):
        limit = f" and at most {upper:g}" if upper is not None else ""
        raise ConfigError(f"{option} {value:g} is not a number above 0{limit}", hint=f"e.g. {option} {example}")


def validate(options: LoadOptions, *, token: str | None) -> None:
    """A usage error (exit 2) naming the option, before any request is made."""
    _positive(options.rate, "--rate", "100", MAX_RATE)
    _positive(options.duration_s, "--duration", "30", MAX_DURATION_S)
    _positive(options.timeout_s, "--timeout", "5", 600)
    if not math.isfinite(options.warmup_s) or not 0 <= options.warmup_s <= MAX_DURATION_S:
        raise ConfigError(f"--warmup {options.warmup_s:g} is not 0 or more seconds", hint="e.g. --warmup 2")
    if options.connections < 1:
        raise ConfigError("--connections must be at least 1", hint="e.g. --connections 256")
    processes = options.process_count
    if processes < 1 or processes > max(64, os.cpu_count() or 1):
        raise ConfigError(f"--processes {processes} is not from 1 to 64", hint="leave it out to choose by --rate")
    if options.connections < processes:
        raise ConfigError(
            f"--connections {options.connections} is below the {processes} generator processes",
            hint="each process needs at least one connection; raise --connections or lower --processes",
        )
    if options.rate / processes > MAX_RATE:
        raise ConfigError("--rate is too high for the processes", hint="add --processes")
    gates = options.gates
    for name, value in (("--p95-ms", gates.p95_ms), ("--p99-ms", gates.p99_ms)):
        if value is not None:
            _positive(value, name, "200")
    if not math.isfinite(gates.max_error_rate) or not 0 <= gates.max_error_rate <= 1:
        raise ConfigError("--max-error-rate is a percentage from 0 to 100", hint="e.g. --max-error-rate 0.1")
    if needs_token(options.weights) and not token:
        raise ConfigError(
            "the mix's writes and reads (POST /map, GET /map/{user_id}) need a bearer token",
            hint="pass --token (or INFRA_SMOKE_TOKEN), use --stack to mint one, or --mix heartbeat=1 for no writes",
        )
