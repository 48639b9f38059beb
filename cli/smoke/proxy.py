"""A local TCP proxy that shapes traffic like a real network: delay, jitter, shared bandwidth and loss."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field

from cli.smoke.profiles import Profile

CHUNK = 16384
"""Largest piece forwarded at once; delay, bandwidth and loss apply per piece."""


@dataclass
class Link:
    """One direction of the emulated network, shared by every connection through the proxy."""

    delay_s: float
    jitter_s: float
    bytes_per_s: float | None
    loss: float
    rto_s: float
    rng: random.Random
    free_at: float = 0.0
    """When the link finishes sending what it has already accepted (the bandwidth queue)."""
    losses: int = 0

    def deliver_at(self, size: int, now: float) -> float:
        """When a piece of `size` bytes handed over at `now` reaches the far end."""
        start = max(now, self.free_at)
        self.free_at = start + (size / self.bytes_per_s if self.bytes_per_s else 0.0)
        delay = self.delay_s
        if self.jitter_s:
            delay = max(0.0, delay + self.rng.uniform(-self.jitter_s, self.jitter_s))
        if self.loss and self.rng.random() < self.loss:
            self.losses += 1
            delay += self.rto_s
        return self.free_at + delay


def links(profile: Profile, seed: int | None = None) -> tuple[Link, Link]:
    """The (upstream, downstream) links of a profile: client to service, and service to client."""
    rng = random.Random(seed)  # noqa: S311 (network emulation, not cryptography)

    def link(kbps: float | None) -> Link:
        return Link(
            delay_s=profile.rtt_ms / 2000,
            jitter_s=profile.jitter_ms / 1000,
            bytes_per_s=kbps * 125 if kbps else None,
            loss=profile.loss_percent / 100,
            rto_s=profile.rto_ms / 1000,
            rng=rng,
        )

    return link(profile.up_kbps), link(profile.down_kbps)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: Link) -> None:
    """Forward one direction: read pieces, hold each until the link delivers it, keep the order."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def deliver() -> None:
        last = 0.0
        while (item := await queue.get()) is not None:
            when, data = item
            last = max(last, when)
            pause = last - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    sender = asyncio.create_task(deliver())
    try:
        while data := await reader.read(CHUNK):
            queue.put_nowait((link.deliver_at(len(data), loop.time()), data))
    finally:
        queue.put_nowait(None)
        with contextlib.suppress(OSError):
            await sender


@dataclass
class ShapingProxy:
    """Listens on 127.0.0.1 and forwards every connection to one upstream address through shaped links."""

    upstream_host: str
    upstream_port: int
    profile: Profile
    seed: int | None = None
    port: int = 0
    connections: int = 0
    _server: asyncio.Server | None = field(default=None, init=False, repr=False)
    _tasks: set[asyncio.Task] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.up, self.down = links(self.profile, self.seed)

    async def __aenter__(self) -> ShapingProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def losses(self) -> int:
        """Pieces that were charged a retransmission timeout so far."""
        return self.up.losses + self.down.losses

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            # The TCP handshake costs one round trip before the first byte can travel.
            await asyncio.sleep(self.profile.rtt_ms / 1000)
            upstream_reader, upstream_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
            await asyncio.gather(
                _pump(client_reader, upstream_writer, self.up),
                _pump(upstream_reader, client_writer, self.down),
            )
        except (OSError, asyncio.CancelledError):
            # A reset on one side is passed on as a reset; the proxy closing ends its connections the same way.
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    writer.transport.abort()
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    writer.close()
            self._tasks.discard(task)
