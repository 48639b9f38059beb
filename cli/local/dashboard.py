"""The local stack's dashboard: the cloud dashboard's panels, computed from the API's /metrics and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.core.errors import OperationFailed
from cli.local.processes import read_pid
from cli.local.services import DatabaseService
from cli.local.stack import LocalStack


@dataclass
class Scrape:
    """One reading: cumulative request counters and latency buckets, gauges, and when it was taken."""

    at: float
    requests: dict[str, float] = field(default_factory=dict)
    """Requests by status class (2xx, 4xx, 5xx)."""
    buckets: dict[float, float] = field(default_factory=dict)
    """Cumulative latency histogram over every route: upper bound in seconds -> count."""
    gauges: dict[str, float] = field(default_factory=dict)


def scrape_metrics(url: str) -> Scrape:
    """Read the API's Prometheus text and fold it into the totals the panels need."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a loopback http URL we built
        text = response.read().decode()
    reading = Scrape(at=time.monotonic())
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "http_requests_total":
                status_class = sample.labels["status"][0] + "xx"
                reading.requests[status_class] = reading.requests.get(status_class, 0) + sample.value
            elif sample.name == "http_request_duration_seconds_bucket":
                bound = float(sample.labels["le"])
                reading.buckets[bound] = reading.buckets.get(bound, 0) + sample.value
            elif sample.name == "db_pool_connections":
                reading.gauges[f"pool_{sample.labels['state']}"] = sample.value
            elif sample.name == "db_up":
                reading.gauges["db_up"] = sample.value
    return reading


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """The q-quantile in ms from cumulative buckets, interpolated within the bucket as Prometheus does."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower * 1000
            share = (rank - below) / (count - below) if count > below else 1.0
            return (lower + (bound - lower) * share) * 1000
        lower, below = bound, count
    return None


def _process_usage(pids: list[int]) -> tuple[float, float]:
    """Total CPU seconds and resident memory (MiB) of these processes, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    cpu = memory = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / ticks
            memory += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page / 2**20
    return cpu, memory


def _api_processes(stack: LocalStack) -> list[int]:
    supervisor = read_pid(stack.root / "run" / "api.pid")
    if supervisor is None:
        return []
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
        return [supervisor, *map(int, children)]
    return [supervisor]


def _database(stack: LocalStack) -> dict[str, float]:
    database = next(s for s in stack.services() if isinstance(s, DatabaseService))
    with database.cluster.connect("app") as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = 'app'),"
            " (SELECT count(*) FROM pg_stat_activity WHERE datname = 'app' AND state = 'active'),"
            " pg_database_size('app'), xact_commit + xact_rollback, blks_read, blks_hit"
            " FROM pg_stat_database WHERE datname = 'app'"
        ).fetchone()
    if row is None:
        raise OperationFailed("the local database 'app' has no statistics row", hint="infra up --stack local")
    keys = ("connections", "active", "size_bytes", "transactions", "blocks_read", "blocks_hit")
    return dict(zip(keys, map(float, row), strict=True))


@dataclass
class Frame:
    """One refresh of the panels, rates taken against the previous frame."""

    panels: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return self.panels


@dataclass(frozen=True)
class Reading:
    """Everything one refresh reads: the API's metrics, its processes' usage, and the database's counters."""

    metrics: Scrape
    processes: int
    cpu_seconds: float
    memory_mib: float
    database: dict[str, float]


class Dashboard:
    """Keeps the previous reading so each frame shows rates over the refresh interval."""

    def __init__(self, stack: LocalStack):
        self.stack = stack
        self.metrics_url = stack.outputs()["metrics_url"][0]
        self.previous: Reading | None = None

    def read(self) -> Reading:
        pids = _api_processes(self.stack)
        cpu, memory = _process_usage(pids)
        return Reading(scrape_metrics(self.metrics_url), len(pids), cpu, memory, _database(self.stack))

    def frame(self, interval: float) -> Frame:
        """The panels over the last interval; the first frame waits one interval for its baseline."""
        if self.previous is None:
            self.previous = self.read()
            time.sleep(interval)
        base, now = self.previous, self.read()
        self.previous = now
        elapsed = max(now.metrics.at - base.metrics.at, 1e-9)

        def per_second(after: float, before: float) -> float:
            return round(max(after - before, 0) / elapsed, 1)

        requests = {k: per_second(v, base.metrics.requests.get(k, 0)) for k, v in now.metrics.requests.items()}
        window = {b: c - base.metrics.buckets.get(b, 0) for b, c in now.metrics.buckets.items()}
        hits, reads = now.database["blocks_hit"], now.database["blocks_read"]
        gauges = now.metrics.gauges
        panels = {
            "load balancer": {
                "requests/s": round(sum(requests.values()), 1),
                "4xx/s": requests.get("4xx", 0.0),
                "5xx/s": requests.get("5xx", 0.0),
                "p50 ms": _round(quantile(window, 0.50)),
                "p95 ms": _round(quantile(window, 0.95)),
                "p99 ms": _round(quantile(window, 0.99)),
                "healthy targets": 1 if now.processes else 0,
            },
            "service": {
                "cpu %": round(100 * max(now.cpu_seconds - base.cpu_seconds, 0) / elapsed, 1),
                "memory MiB": round(now.memory_mib, 1),
                "running tasks": max(now.processes - 1, 1) if now.processes else 0,
            },
            "database": {
                "connections": int(now.database["connections"]),
                "active": int(now.database["active"]),
                "size MiB": round(now.database["size_bytes"] / 2**20, 1),
                "transactions/s": per_second(now.database["transactions"], base.database["transactions"]),
                "cache hit %": round(100 * hits / max(hits + reads, 1), 1),
            },
            "pool": {
                "client connections": int(gauges.get("pool_size", 0)),
                "idle": int(gauges.get("pool_idle", 0)),
                "waiting": int(gauges.get("pool_waiting", 0)),
                "database up": bool(gauges.get("db_up", 0)),
            },
        }
        return Frame(panels)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
