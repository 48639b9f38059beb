"""Prometheus metrics: requests and latency by route and status, and the connection pool's gauges."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)

REQUESTS = Counter("http_requests_total", "HTTP requests answered", ("route", "method", "status"))
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from request to response",
    ("route", "method", "status"),
    buckets=LATENCY_BUCKETS,
)
POOL = Gauge(
    "db_pool_connections",
    "Database pool connections by state",
    ("state",),
    multiprocess_mode="livesum",
)
DB_UP = Gauge("db_up", "1 when the last heartbeat reached the database, else 0", multiprocess_mode="livemostrecent")

_children: dict[tuple[str, str, int], tuple] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency; label children are cached off the hot path."""
    key = (route, method, status)
    pair = _children.get(key)
    if pair is None:
        labels = (route, method, str(status))
        pair = _children[key] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
    pair[0].inc()
    pair[1].observe(seconds)


def set_pool(stats: dict[str, int]) -> None:
    for state in ("size", "idle", "waiting", "max"):
        POOL.labels(state).set(stats[state])


def set_database_up(up: bool) -> None:
    DB_UP.set(1 if up else 0)


def exposition() -> bytes:
    """The text format, summed over every worker process when several serve the port."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


def worker_exited(pid: int | None = None) -> None:
    """Drop a worker's live gauges from the shared totals (this process's when no pid is given)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid or os.getpid())
