"""The shaping proxy's added latency, jitter, bandwidth and loss, measured against its settings."""

from __future__ import annotations

import asyncio
import time

import pytest

from cli.smoke.profiles import Profile
from cli.smoke.proxy import ShapingProxy, links


def _profile(**values) -> Profile:
    return Profile(name="test", description="test", **values)


async def _echo_server() -> asyncio.Server:
    async def echo(reader, writer):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(echo, "127.0.0.1", 0)


async def _round_trips(profile: Profile, count: int, seed: int = 7) -> tuple[float, list[float], ShapingProxy]:
    """Time to connect and get the first echo, then the round-trip times of `count` small messages."""
    server = await _echo_server()
    async with server, ShapingProxy("127.0.0.1", server.sockets[0].getsockname()[1], profile, seed=seed) as proxy:
        began = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"hello")
        assert await reader.readexactly(5) == b"hello"
        first = time.perf_counter() - began
        times = []
        for i in range(count):
            message = f"ping {i:04d}".encode()
            start = time.perf_counter()
            writer.write(message)
            assert await reader.readexactly(len(message)) == message
            times.append(time.perf_counter() - start)
        writer.close()
    return first, times, proxy


# The schedule itself (when each piece is due) is checked exactly against an injected clock; the real proxy is only
# checked from below (a loaded machine can make it slower, never faster), so no test here fails for a busy machine.


def test_added_latency_matches_the_round_trip_time():
    first, times, _ = asyncio.run(_round_trips(_profile(rtt_ms=60), 5))
    assert min(times) >= 0.060
    # The first exchange also pays the emulated handshake: two round trips.
    assert first >= 0.120


def test_each_way_is_due_half_a_round_trip_after_it_was_handed_over():
    up, down = links(_profile(rtt_ms=60))
    assert up.deliver_at(10, now=5.0) == pytest.approx(5.030)
    assert down.deliver_at(10, now=5.030) == pytest.approx(5.060)  # the round trip: 60 ms, not 120


def test_without_shaping_a_piece_is_due_at_once():
    up, down = links(_profile())
    assert up.deliver_at(100_000, now=7.0) == 7.0
    assert down.deliver_at(100_000, now=7.0) == 7.0


def test_jitter_spreads_delays_within_its_bounds():
    up, _ = links(_profile(rtt_ms=40, jitter_ms=15), seed=7)
    delays = [up.deliver_at(1, now=float(i)) - i for i in range(200)]
    assert all(0.020 - 0.015 <= d <= 0.020 + 0.015 for d in delays), delays
    assert max(delays) - min(delays) > 0.020  # spread over most of the +-15 ms


def test_loss_costs_a_retransmission_timeout_each_way():
    up, down = links(_profile(rtt_ms=10, loss_percent=100, rto_ms=80))
    assert up.deliver_at(1, now=0.0) + down.deliver_at(1, now=0.0) == pytest.approx(2 * (0.005 + 0.080))
    _, times, proxy = asyncio.run(_round_trips(_profile(rtt_ms=10, loss_percent=100, rto_ms=80), 3))
    assert all(t >= 0.170 for t in times), times
    assert proxy.losses == 2 * 4  # every piece, both directions, including the first exchange


def test_bandwidth_queues_pieces_behind_each_other_on_one_shared_link():
    _, down = links(_profile(down_kbps=2000))  # 250 kB/s
    first = down.deliver_at(50_000, now=0.0)
    second = down.deliver_at(50_000, now=0.0)  # another connection, same link: it waits for the first
    assert first == pytest.approx(0.2)
    assert second == pytest.approx(0.4)
    assert down.deliver_at(1, now=1.0) == pytest.approx(1.0 + 1 / 250_000)  # an idle link starts afresh


async def _download(profile: Profile, size: int, connections: int = 1) -> float:
    payload = b"x" * size

    async def send(reader, writer):
        await reader.readexactly(3)
        writer.write(payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(send, "127.0.0.1", 0)
    async with server, ShapingProxy("127.0.0.1", server.sockets[0].getsockname()[1], profile) as proxy:

        async def fetch() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"get")
            await writer.drain()
            assert await reader.readexactly(size) == payload
            writer.close()

        began = time.perf_counter()
        await asyncio.gather(*(fetch() for _ in range(connections)))
        return time.perf_counter() - began


def test_download_bandwidth_matches_the_limit():
    # 100 kB at 2000 kbit/s (250 kB/s) take 0.4 s.
    elapsed = asyncio.run(_download(_profile(down_kbps=2000), 100_000))
    assert elapsed >= 0.38, elapsed


def test_bandwidth_is_shared_by_all_connections():
    # Two connections of 50 kB each share the same 250 kB/s: 0.4 s together, not 0.2 s.
    elapsed = asyncio.run(_download(_profile(down_kbps=2000), 50_000, connections=2))
    assert elapsed >= 0.38, elapsed


def test_upload_bandwidth_matches_the_limit():
    size = 50_000

    async def scenario() -> float:
        done = asyncio.get_running_loop().create_future()

        async def sink(reader, writer):
            await reader.readexactly(size)
            done.set_result(time.perf_counter())
            writer.close()

        server = await asyncio.start_server(sink, "127.0.0.1", 0)
        profile = _profile(up_kbps=1000)  # 125 kB/s: 0.4 s
        async with server, ShapingProxy("127.0.0.1", server.sockets[0].getsockname()[1], profile) as proxy:
            _, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            began = time.perf_counter()
            writer.write(b"y" * size)
            await writer.drain()
            arrived = await asyncio.wait_for(done, 5)
            writer.close()
            return arrived - began

    elapsed = asyncio.run(scenario())
    assert elapsed >= 0.38, elapsed


def test_an_upstream_that_is_down_closes_the_client_connection():
    async def scenario() -> bytes:
        async with ShapingProxy("127.0.0.1", 1, _profile()) as proxy:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            try:
                return await asyncio.wait_for(reader.read(10), 2)
            except ConnectionResetError:
                return b"reset"
            finally:
                writer.close()

    assert asyncio.run(scenario()) in (b"", b"reset")
