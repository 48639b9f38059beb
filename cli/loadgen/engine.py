"""One generator process: sends on a fixed schedule (an open model) and times each request from its intended start."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from cli.loadgen.mix import RequestMix
from cli.loadgen.recorder import Recorder
from cli.smoke.classify import DEADLINE, TIMEOUT, classify_exception
from cli.smoke.http import Connection, Endpoint
from cli.smoke.load import Call

STOP_AFTER_S = 1.0
"""How far past the window's end a generator that has fallen behind keeps sending before it gives the rest up."""


@dataclass(frozen=True)
class Share:
    """One process's part of a run: every `processes`-th send of the schedule, from `index / rate` on."""

    address: str
    port: int
    host_header: str
    server_hostname: str | None
    ca_file: str | None
    https: bool
    base_url: str
    token: str | None = field(repr=False)
    run_id: str
    weights: Mapping[str, int]
    rate: float
    """The whole run's requests per second, over every process."""
    processes: int
    index: int
    warmup_s: float
    duration_s: float
    timeout_s: float
    connections: int
    """The most connections this process opens at once; further sends wait for one to come free."""


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


class _Item:
    """A send of the schedule: when it should leave, when it first could have (a connection was free), and what."""

    __slots__ = ("call", "intended", "ready")

    def __init__(self, intended: float, call: Call) -> None:
        self.intended = intended
        self.ready = intended
        self.call = call


class Generator:
    """The schedule, the connections and the recorder of one process."""

    def __init__(self, share: Share, start_at: float) -> None:
        context = tls_context(share.ca_file) if share.https else None
        self.endpoint = Endpoint(share.address, share.port, share.host_header, context, share.server_hostname)
        self.share = share
        self.mix = RequestMix(share.base_url, share.token, share.run_id, share.index, share.weights)
        self.interval = share.processes / share.rate
        self.first = start_at + share.index / share.rate
        window_start = start_at + share.warmup_s
        self.end = window_start + share.duration_s
        self.recorder = Recorder(window_start, self.end)
        self.backlog: deque[_Item] = deque()
        self.idle: list[asyncio.Future[_Item | None]] = []
        self.workers: set[asyncio.Task[None]] = set()
        self.closing = False
        self.crash: BaseException | None = None
        """A worker's unexpected exception: the run reports it rather than carrying on with fewer connections."""
        # Realtime minus monotonic: turns the kernel's receive timestamps into this schedule's clock.
        self.offset_ns = time.time_ns() - time.monotonic_ns()

    async def run(self) -> Recorder:
        clock = time.monotonic
        cpu_before, wall_before = time.process_time(), clock()
        total = max(0, int((self.end - self.first) / self.interval - 1e-9) + 1)
        n = 0
        while n < total:
            now = clock()
            due = self.first + n * self.interval
            if due > now:
                await asyncio.sleep(due - now)
                now = clock()
            if self.crash is not None:
                break
            if now > self.end + STOP_AFTER_S:
                self.recorder.unsent += total - n
                break
            while n < total and self.first + n * self.interval <= now:
                self._release(_Item(self.first + n * self.interval, self.mix.next()), now)
                n += 1
        await self._drain()
        if self.crash is not None:
            raise self.crash
        self.recorder.cpu_s = time.process_time() - cpu_before
        self.recorder.wall_s = clock() - wall_before
        return self.recorder

    def _release(self, item: _Item, now: float) -> None:
        if self.idle:
            self.idle.pop().set_result(item)
        elif len(self.workers) < self.share.connections:
            task = asyncio.get_running_loop().create_task(self._worker(item))
            self.workers.add(task)
            task.add_done_callback(self._ended)
        else:
            self.recorder.queued_for_connection(item.intended)
            self.backlog.append(item)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.workers.discard(task)
        if not task.cancelled() and task.exception() is not None and self.crash is None:
            self.crash = task.exception()

    async def _worker(self, item: _Item | None) -> None:
        """One connection: sends what it is handed, then what waits, then waits to be handed more."""
        loop = asyncio.get_running_loop()
        connection: Connection | None = None
        try:
            while item is not None:
                connection, free_since = await self._send(connection, item)
                item = None
                while self.backlog:
                    waiting = self.backlog.popleft()
                    if time.monotonic() - waiting.intended >= self.share.timeout_s:
                        self._fail(waiting, TIMEOUT, f"waited {self.share.timeout_s:g} s for a free connection")
                        continue
                    # It could have left once the answer before it arrived: any later is the generator's delay.
                    waiting.ready = max(waiting.intended, free_since)
                    item = waiting
                    break
                if item is None and not self.closing:
                    future: asyncio.Future[_Item | None] = loop.create_future()
                    self.idle.append(future)
                    item = await future
        finally:
            if connection is not None:
                connection.close()

    async def _send(self, connection: Connection | None, item: _Item) -> tuple[Connection | None, float]:
        """Send one request and judge its answer; the connection to go on with, and when it came free."""
        call = item.call
        sent_at = time.monotonic()
        self.recorder.dispatched(item.intended, item.ready, sent_at)
        try:
            if connection is None or connection.closed:
                connection = await Connection.open(self.endpoint, self.share.timeout_s)
                self.recorder.connections += 1
            remaining = self.share.timeout_s - (time.monotonic() - sent_at)
            response, arrived_ns = await connection.request(call.payload, max(remaining, 0.001))
        except asyncio.CancelledError:
            self._fail(item, DEADLINE, "no answer before the run ended")
            raise
        except Exception as exc:
            kind, detail = classify_exception(exc)
            self._fail(item, kind, detail)
            if connection is not None:
                connection.close()
            return None, time.monotonic()
        arrived = max((arrived_ns - self.offset_ns) / 1e9, sent_at)
        failure, detail, _ = call.judge(response.status, response.body)
        if failure is None:
            self.recorder.succeeded(call.endpoint, item.intended, sent_at, arrived)
        else:
            self._fail(item, failure, detail)
        if not response.keep_alive:
            connection.close()
            return None, arrived
        return connection, arrived

    def _fail(self, item: _Item, kind: str, detail: str) -> None:
        self.recorder.failed_with(item.call.endpoint, item.intended, kind, detail)

    async def _drain(self) -> None:
        """Let the requests in flight answer (each has its timeout), then close every connection."""
        # Busy workers go on through the backlog (whose requests time out in it) and then end; idle ones end now.
        self.closing = True
        for future in self.idle:
            future.set_result(None)
        self.idle.clear()
        if self.workers:
            _, pending = await asyncio.wait(list(self.workers), timeout=2 * self.share.timeout_s + 1.0)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
        for waiting in self.backlog:
            self._fail(waiting, DEADLINE, "never sent: the run ended first")
        self.backlog.clear()


async def drive(share: Share, start_at: float) -> Recorder:
    """Run one process's share of the schedule, starting at `start_at` (time.monotonic, shared by processes)."""
    return await Generator(share, start_at).run()
