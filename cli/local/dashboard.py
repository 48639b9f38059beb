"""The local stack's dashboard: the cloud dashboard's panels, from Prometheus (PromQL), /proc and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.core.errors import OperationFailed
from cli.local import prometheus
from cli.local.processes import read_pid
from cli.local.services import ApiService, DatabaseService
from cli.local.stack import LocalStack


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
    api = next(s for s in stack.services() if isinstance(s, ApiService))
    supervisor = read_pid(api.pidfile)  # the live release's slot (cli/local/release_flow.py)
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
class Usage:
    """The API's processes and their CPU time and memory, read from /proc (Prometheus has no process series)."""

    processes: int
    cpu_seconds: float
    memory_mib: float
    at: float


class Dashboard:
    """The cloud dashboard's panels: the API's and the worker's series from Prometheus (PromQL over the refresh
    interval), the processes' usage from /proc and the database's counters from PostgreSQL."""

    def __init__(self, stack: LocalStack):
        self.stack = stack
        self.url = stack.outputs()["prometheus_url"][0]
        self.scrape_seconds = _scrape_interval(stack.root / "prometheus" / "prometheus.yml")
        self.previous: Usage | None = None
        self.database_before: dict[str, float] | None = None

    def usage(self) -> Usage:
        pids = _api_processes(self.stack)
        cpu, memory = _process_usage(pids)
        return Usage(len(pids), cpu, memory, time.monotonic())

    def frame(self, interval: float) -> Frame:
        """The panels over the last interval; each frame waits one interval after the one before."""
        if self.previous is None:
            self.previous, self.database_before = self.usage(), _database(self.stack)
        time.sleep(interval)
        base, now = self.previous, self.usage()
        database_before, database = self.database_before or {}, _database(self.stack)
        self.previous, self.database_before = now, database
        elapsed = max(now.at - base.at, 1e-9)
        # rate() needs two samples inside its window: at least two scrape intervals, whatever the refresh.
        window = f"{max(round(interval), 2 * self.scrape_seconds)}s"
        api = 'job="api"'

        def promql(expression: str, digits: int = 1, scale: float = 1.0) -> float | None:
            value = prometheus.instant(self.url, expression)
            return None if value is None else round(value * scale, digits)

        def count(expression: str) -> int | None:
            """A whole number from Prometheus; None (shown as -) until it has scraped the series."""
            value = promql(expression, 0)
            return None if value is None else int(value)

        def per_second(status: str) -> float:
            selector = f'http_requests_total{{{api},status=~"{status}"}}'
            return promql(f"sum(rate({selector}[{window}]))") or 0.0

        def latency(q: float) -> float | None:
            buckets = f"sum by (le) (rate(http_request_duration_seconds_bucket{{{api}}}[{window}]))"
            return promql(f"histogram_quantile({q}, {buckets})", 2, 1000)

        hits, reads = database["blocks_hit"], database["blocks_read"]
        alerts = prometheus.alerts(self.url)
        panels = {
            "load balancer": {
                "requests/s": per_second(".*"),
                "4xx/s": per_second("4.."),
                "5xx/s": per_second("5.."),
                "p50 ms": latency(0.50),
                "p95 ms": latency(0.95),
                "p99 ms": latency(0.99),
                "healthy targets": count(f"sum(up{{{api}}})"),
            },
            "service": {
                "cpu %": round(100 * max(now.cpu_seconds - base.cpu_seconds, 0) / elapsed, 1),
                "memory MiB": round(now.memory_mib, 1),
                "running tasks": max(now.processes - 1, 1) if now.processes else 0,
            },
            "database": {
                "connections": int(database["connections"]),
                "active": int(database["active"]),
                "size MiB": round(database["size_bytes"] / 2**20, 1),
                "transactions/s": round(
                    max(database["transactions"] - database_before.get("transactions", 0), 0) / elapsed, 1
                ),
                "cache hit %": round(100 * hits / max(hits + reads, 1), 1),
            },
            "pool": {
                "client connections": count(f'sum(db_pool_connections{{{api},state="size"}})'),
                "idle": count(f'sum(db_pool_connections{{{api},state="idle"}})'),
                "waiting": count(f'sum(db_pool_connections{{{api},state="waiting"}})'),
                "database up": None if (db_up := promql(f"max(db_up{{{api}}})", 0)) is None else bool(db_up),
            },
            "worker": {
                "backlog": promql('max(worker_backlog{job="worker"})', 0),
                "scraped": count('sum(up{job="worker"})'),
            },
            "alarms": {
                "firing": sum(a["state"] == "firing" for a in alerts),
                "pending": sum(a["state"] == "pending" for a in alerts),
            },
        }
        return Frame(panels)


def _scrape_interval(config: Path) -> int:
    """The stack's scrape interval in seconds, from the configuration it gave Prometheus."""
    try:
        return int(json.loads(config.read_text())["global"]["scrape_interval"].rstrip("s"))
    except (OSError, ValueError, KeyError):
        return prometheus.DEFAULT_INTERVAL
