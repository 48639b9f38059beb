"""The check's HTTP/1.1 client: framing, keep-alive, failures, and latencies from kernel receive timestamps."""

from __future__ import annotations

import asyncio

import pytest

from cli.smoke.classify import classify_exception
from cli.smoke.http import Client, Endpoint, Parser, ProtocolError, ResetError, build_request
from tests.cli.smoke.faulty import RawServer, serve


def test_content_length_framing_across_reads():
    parser = Parser()
    assert parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel") is None
    response = parser.feed(b"lo")
    assert (response.status, response.body, response.keep_alive) == (200, b"hello", True)
    assert parser.feed(b"HTTP/1.1 204 No Content\r\n\r\n").status == 204


def test_bytes_past_the_answer_make_it_the_connections_last():
    response = Parser().feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\r\n")
    assert (response.body, response.keep_alive) == (b"ok", False)


def test_a_head_without_end_is_refused_once_it_passes_the_limit():
    parser = Parser()
    assert parser.feed(b"HTTP/1.1 200 OK\r\n") is None
    for _ in range(64):
        assert parser.feed(b"X-Filler: " + b"a" * 1000 + b"\r\n") is None
    with pytest.raises(ProtocolError, match="head larger than 64 KiB"):
        parser.feed(b"X-Filler: " + b"a" * 1000 + b"\r\n")


def test_a_body_without_end_is_refused_once_it_passes_the_limit():
    parser = Parser()
    parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"100000\r\n" + b"a" * 0x100000 + b"\r\n"
    for _ in range(16):
        assert parser.feed(piece) is None
    with pytest.raises(ProtocolError, match="body larger than 16 MiB"):
        parser.feed(piece)


def test_chunked_bodies_are_joined():
    parser = Parser()
    assert parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n") is None
    response = parser.feed(b"2;x=y\r\nde\r\n0\r\n\r\n")
    assert response.body == b"abcde"


def test_a_body_without_length_ends_with_the_connection():
    parser = Parser()
    assert parser.feed(b"HTTP/1.0 200 OK\r\n\r\npartial") is None
    response = parser.finish()
    assert response.body == b"partial"
    assert response.keep_alive is False


def test_interim_answers_are_skipped():
    response = Parser().feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    assert response.status == 201


def test_connection_close_is_honoured():
    response = Parser().feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert response.keep_alive is False


@pytest.mark.parametrize("data", [b"SSH-2.0-OpenSSH_9.2\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"])
def test_bytes_that_are_not_http_are_a_protocol_error(data):
    with pytest.raises(ProtocolError):
        Parser().feed(data)


def test_a_body_cut_short_is_a_reset():
    parser = Parser()
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    with pytest.raises(ResetError, match="3 of 10"):
        parser.finish()


def test_the_request_bytes():
    assert build_request("POST", "/map", "api:8443", {"A": "b"}, b"{}") == (
        b"POST /map HTTP/1.1\r\nHost: api:8443\r\nUser-Agent: infra-smoke\r\nA: b\r\nContent-Length: 2\r\n\r\n{}"
    )


@pytest.mark.parametrize(
    ("path", "host", "headers"),
    [
        ("/a\r\nX: y", "h", {}),
        ("/", "h\nX: y", {}),
        ("/", "h", {"Authorization": "Bearer t\r\nX: y"}),
        ("/\0", "h", {}),
    ],
)
def test_a_line_break_cannot_reach_the_request(path, host, headers):
    with pytest.raises(ValueError, match="line break"):
        build_request("GET", path, host, headers)


async def _server(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, Endpoint("127.0.0.1", server.sockets[0].getsockname()[1], "test")


def test_keep_alive_reuses_one_connection_and_latency_counts_the_servers_delay():
    connections = []

    async def handler(reader, writer):
        connections.append(writer)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(0.02)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    async def scenario():
        server, endpoint = await _server(handler)
        async with server:
            client = Client(endpoint)
            results = [await client.send(build_request("GET", "/", "test", {}), 2) for _ in range(5)]
            client.close()
            return results

    results = asyncio.run(scenario())
    assert len(connections) == 1
    assert all(response.body == b"ok" for response, _, _ in results)
    assert all(latency >= 20 for _, _, latency in results), [latency for _, _, latency in results]


def test_a_server_closing_mid_answer_is_a_reset_and_the_next_request_reconnects():
    calls = []

    async def handler(reader, writer):
        calls.append(1)
        await reader.readuntil(b"\r\n\r\n")
        if len(calls) == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def scenario():
        server, endpoint = await _server(handler)
        async with server:
            client = Client(endpoint)
            with pytest.raises(ResetError) as info:
                await client.send(build_request("GET", "/", "test", {}), 2)
            response, _, _ = await client.send(build_request("GET", "/", "test", {}), 2)
            client.close()
            return info.value, response

    error, response = asyncio.run(scenario())
    assert classify_exception(error)[0] == "reset"
    assert response.body == b"ok"
    assert len(calls) == 2


def test_silence_is_a_timeout():
    async def handler(reader, writer):
        await reader.read()

    async def scenario():
        server, endpoint = await _server(handler)
        async with server:
            client = Client(endpoint)
            try:
                await client.send(build_request("GET", "/", "test", {}), 0.05)
            finally:
                client.close()

    with pytest.raises(TimeoutError) as info:
        asyncio.run(scenario())
    assert classify_exception(info.value)[0] == "timeout"


def _send_twice(answer: bytes, timeout_s: float = 30.0):
    """Two requests in turn over one Client to a RawServer answering `answer`: what each got, and the server.

    The timeout only bounds a defect (a connection wrongly kept); a loaded machine must not reach it."""
    server = RawServer(answer)

    async def scenario():
        client = Client(Endpoint("127.0.0.1", server.port, "test"))
        outcomes = []
        for _ in range(2):
            try:
                outcomes.append((await client.send(build_request("GET", "/", "test", {}), timeout_s))[0])
            except Exception as exc:
                outcomes.append(exc)
        client.close()
        return outcomes

    with serve(server):
        return asyncio.run(scenario()), server


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (CHUNKED_HEAD + b"-5\r\nabcde\r\n0\r\n\r\n", "chunk size"),
        (CHUNKED_HEAD + b"-1\r\n", "chunk size"),
        (CHUNKED_HEAD + b"3\r\nabcXX0\r\n\r\n", "after chunk data"),
        (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "CR"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok", "header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Transfer-Encoding"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n", "switched protocols"),
    ],
)
def test_malformed_answers_from_a_server_are_protocol_errors_at_once(answer, reason):
    outcomes, _ = _send_twice(answer, timeout_s=5)
    error = outcomes[0]
    assert isinstance(error, ProtocolError), error
    assert reason in str(error)
    assert classify_exception(error)[0] == "protocol"


@pytest.mark.parametrize("connection", ["close, x", "x, close", "Close", "keep-alive, close"])
def test_a_close_among_other_connection_options_closes_the_connection(connection):
    answer = f"HTTP/1.1 200 OK\r\nConnection: {connection}\r\nContent-Length: 2\r\n\r\nok".encode()
    outcomes, server = _send_twice(answer)
    assert [getattr(o, "body", o) for o in outcomes] == [b"ok", b"ok"]
    assert server.connections == 2


def test_bytes_beyond_the_answer_end_the_connection():
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"
    outcomes, server = _send_twice(answer)
    assert [getattr(o, "body", o) for o in outcomes] == [b"ok", b"ok"]
    assert server.connections == 2
