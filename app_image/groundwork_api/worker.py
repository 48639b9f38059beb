"""The background worker: relays the outbox to the stream, applies each event once, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg
from psycopg_pool import AsyncConnectionPool
from redis.exceptions import RedisError, ResponseError

from . import events, logs, metrics, migrations
from .cache import Cache, CacheSettings, CacheUnavailable
from .db import _with_iam_token

RECLAIM_IDLE_MS = 60_000
"""A delivered event nobody acknowledged for this long (its worker died) is taken over by another worker."""
STREAM_MAX_LENGTH = 100_000
"""Approximate length the stream is trimmed to; relayed events are in the outbox and the ledger anyway."""


@dataclass(frozen=True)
class WorkerSettings:
    """What the worker reads from its environment."""

    database_url: str = field(repr=False)
    cache: CacheSettings
    database_sslmode: str = ""
    database_iam_auth: bool = False
    aws_region: str = ""
    batch: int = 50
    """Events taken from the stream at a time; a SIGTERM lets the batch in hand finish."""
    idle_wait_ms: int = 500
    """How long one read waits on an empty stream."""
    metric_namespace: str = ""
    """CloudWatch namespace of the backlog metric; empty: the backlog is only logged."""
    service: str = "worker"
    """Value of the metric's Service dimension."""
    metric_interval: float = 60.0
    """Seconds between backlog reports."""
    lost_check_interval: float = 10.0
    """Seconds between looks for published events the stream lost."""
    metrics_port: int = 0
    """Port of the worker's Prometheus endpoint (/metrics); 0: none (the cloud reads the backlog metric)."""
    metrics_host: str = "127.0.0.1"
    """Address the endpoint listens on."""


def load(env: Mapping[str, str] | None = None) -> WorkerSettings:
    """The worker's settings from the environment; raises ValueError naming each bad variable."""
    env = os.environ if env is None else env
    problems: list[str] = []

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = env.get(name, "")
        if raw == "":
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            problems.append(f"{name}={raw[:40]!r} is not allowed; allowed: {low} to {high}")
            return default
        return int(raw)

    database_url = env.get("DATABASE_URL", "")
    if not database_url:
        problems.append("DATABASE_URL is required")
    cache = CacheSettings(
        url=env.get("CACHE_URL", ""),
        password=env.get("CACHE_PASSWORD", ""),
        username=env.get("CACHE_USERNAME", ""),
        iam_auth=env.get("CACHE_IAM_AUTH", "false").lower() in ("1", "true"),
        region=env.get("AWS_REGION", ""),
        ca_file=env.get("CACHE_CA_FILE", ""),
    )
    if not cache.url:
        problems.append("CACHE_URL is required: the worker reads its events from the cache's stream")
    settings = WorkerSettings(
        database_url=database_url,
        cache=cache,
        database_sslmode=env.get("DATABASE_SSLMODE", ""),
        database_iam_auth=env.get("DATABASE_IAM_AUTH", "false").lower() in ("1", "true"),
        aws_region=env.get("AWS_REGION", ""),
        batch=number("WORKER_BATCH", 50, 1, 1000),
        metric_namespace=env.get("WORKER_METRIC_NAMESPACE", ""),
        service=env.get("WORKER_SERVICE", "worker"),
        metrics_port=number("METRICS_PORT", 0, 0, 65535),
        metrics_host=env.get("METRICS_HOST", "127.0.0.1"),
        metric_interval=number("WORKER_METRIC_INTERVAL", 60, 1, 3600),
    )
    if problems:
        raise ValueError("invalid worker settings: " + "; ".join(problems))
    return settings


class Worker:
    """One consumer of the stream; several run side by side, each event is applied by exactly one of them."""

    def __init__(self, settings: WorkerSettings):
        self.settings = settings
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        options: dict = {"autocommit": True, "prepare_threshold": None, "application_name": "groundwork-worker"}
        if settings.database_sslmode:
            options["sslmode"] = settings.database_sslmode
        self.pool = AsyncConnectionPool(
            settings.database_url,
            kwargs=_with_iam_token(settings, options) if settings.database_iam_auth else options,
            min_size=1,
            max_size=2,
            open=False,
            name="worker",
        )
        # A blocking stream read waits idle_wait_ms on an idle stream: the socket must outlast it, or every idle
        # read would time out and count as a failure.
        patience = max(settings.cache.timeout, settings.idle_wait_ms / 1000 + 2.0)
        self.cache = Cache(dataclasses.replace(settings.cache, timeout=patience))
        self.stream = self.cache.client
        self.applied = 0
        self.relayed = 0
        self.retries = 0
        self.schema_ready = False

    async def run(self, stop: asyncio.Event) -> None:
        """Works until `stop` is set; the batch in hand when it is set is finished first."""
        await self.pool.open(wait=False)
        delay, last_report, last_reclaim, last_lost_check = 0.25, 0.0, 0.0, 0.0
        try:
            while not stop.is_set():
                try:
                    await self._check_schema()
                    await self._ensure_group()
                    self.relayed += await self._relay()
                    if time.monotonic() - last_reclaim > RECLAIM_IDLE_MS / 2000:
                        last_reclaim = time.monotonic()
                        await self._apply(await self._reclaim())
                    if time.monotonic() - last_lost_check >= self.settings.lost_check_interval:
                        last_lost_check = time.monotonic()
                        await self._requeue_lost()
                    await self._apply(await self._read())
                    if time.monotonic() - last_report >= self.settings.metric_interval:
                        last_report = time.monotonic()
                        await self._report_backlog()
                    delay = 0.25
                except (RedisError, OSError, psycopg.Error, CacheUnavailable, migrations.SchemaBehind) as exc:
                    self.retries += 1
                    logs.emit("warning", "worker retrying", reason=type(exc).__name__, detail=str(exc)[:200])
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    delay = min(delay * 2, 5.0)
        finally:
            await self.cache.close()
            await self.pool.close(timeout=5)
            logs.emit("info", "worker stopped", applied=self.applied, relayed=self.relayed)
            logs.flush()

    async def _check_schema(self) -> None:
        """The worker never runs ahead of the schema: until the release's migration has run, it waits."""
        if self.schema_ready:
            return
        async with self.pool.connection() as conn:
            await migrations.check(conn)
        self.schema_ready = True

    async def _ensure_group(self) -> None:
        try:
            await self.stream.xgroup_create(events.STREAM, events.GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _publish(self, batch: list[events.Event]) -> None:
        pipe = self.stream.pipeline(transaction=False)
        for event in batch:
            pipe.xadd(events.STREAM, event.fields(), maxlen=STREAM_MAX_LENGTH, approximate=True)
        await pipe.execute()

    async def _relay(self) -> int:
        async with self.pool.connection() as conn:
            return await events.relay(conn, self._publish, batch=self.settings.batch)

    async def _read(self) -> list[tuple[bytes, dict]]:
        found = await self.stream.xreadgroup(
            events.GROUP,
            self.consumer,
            {events.STREAM: ">"},
            count=self.settings.batch,
            block=self.settings.idle_wait_ms,
        )
        return [entry for _stream, entries in found or [] for entry in entries]

    async def _reclaim(self) -> list[tuple[bytes, dict]]:
        """Events delivered to a worker that died before acknowledging them."""
        _next, claimed, *_ = await self.stream.xautoclaim(
            events.STREAM, events.GROUP, self.consumer, min_idle_time=RECLAIM_IDLE_MS, count=self.settings.batch
        )
        return [entry for entry in claimed if entry and entry[1]]

    async def _apply(self, entries: list[tuple[bytes, dict]]) -> None:
        """Applies every entry in hand; a stop request waits for the batch, which takes milliseconds."""
        if not entries:
            return
        batch = [(message_id, events.Event.from_fields(fields)) for message_id, fields in entries]
        async with self.pool.connection() as conn:
            self.applied += await events.apply_batch(conn, [event for _message_id, event in batch])
        # A cached read older than a write goes, whether or not the API's own refresh reached the cache (it may
        # have been down then): every acknowledged write ends up invalidating what it made stale.
        await self.cache.drop_older_many([(event.user_id, event.version) for _message_id, event in batch])
        # Acknowledged only after the summaries committed: a crash in between means a redelivery, which the ledger
        # turns into a no-op.
        await self.stream.xack(events.STREAM, events.GROUP, *[message_id for message_id, _event in batch])

    async def _requeue_lost(self) -> None:
        """Publishes again what the stream lost; only when every event it holds was delivered and acknowledged."""
        groups = await self.stream.xinfo_groups(events.STREAM)
        ours = [g for g in groups if g.get("name") in (events.GROUP, events.GROUP.encode())]
        if not ours or ours[0].get("lag") is None or int(ours[0]["lag"]) or int(ours[0].get("pending") or 0):
            return
        async with self.pool.connection() as conn:
            lost = await events.requeue_lost(conn)
        if lost:
            logs.emit("warning", "events the stream lost are published again", events=lost)

    async def _report_backlog(self) -> None:
        async with self.pool.connection() as conn:
            waiting = await events.backlog(conn)
        groups = await self.stream.xinfo_groups(events.STREAM)
        lag = sum(
            int(g.get("lag") or 0) + int(g.get("pending") or 0)
            for g in groups
            if g.get("name") in (events.GROUP, events.GROUP.encode())
        )
        total = waiting + lag
        logs.emit("info", "worker backlog", backlog=total, applied=self.applied, relayed=self.relayed)
        metrics.set_backlog(self.settings.service, total)
        if self.settings.metric_namespace and self.settings.aws_region:
            await asyncio.to_thread(self._put_metric, total)

    def _put_metric(self, value: int) -> None:
        import botocore.session

        client = botocore.session.Session().create_client("cloudwatch", region_name=self.settings.aws_region)
        client.put_metric_data(
            Namespace=self.settings.metric_namespace,
            MetricData=[
                {
                    "MetricName": "Backlog",
                    "Dimensions": [{"Name": "Service", "Value": self.settings.service}],
                    "Value": float(value),
                    "Unit": "Count",
                }
            ],
        )


def serve_metrics(host: str, port: int) -> None:
    """/metrics on its own thread: the registry the API's endpoint uses, so both read the same way."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = metrics.exposition()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return  # scrapes are not events worth a log line

    server = ThreadingHTTPServer((host, port), Handler)
    Thread(target=server.serve_forever, name="metrics", daemon=True).start()


async def main() -> int:
    try:
        settings = load()
    except ValueError as exc:
        logs.emit("error", str(exc))
        logs.flush()
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if settings.metrics_port:
        serve_metrics(settings.metrics_host, settings.metrics_port)
    logs.emit("info", "worker starting")
    await Worker(settings).run(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
