"""A request's line and headers are bounded as they arrive: past 64 KiB a 431 JSON answer and the connection closed,
before the server has gathered them; bodies and pipelined requests are not counted as heads."""

from __future__ import annotations

import contextlib
import socket

import pytest

from tests.app.tokens import admin_token

LIMIT = 64 * 1024


def _exchange(port: int, payload: bytes, answers: int = 1) -> bytes:
    """Send the bytes at once and read until the connection closes or `answers` answers have come."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # Refused before everything was sent: the answer is still there to read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(payload)
        reply = b""
        while reply.count(b"HTTP/1.1 ") < answers or not reply.endswith(b"}"):
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            reply += chunk
    return reply


@pytest.mark.parametrize("size", [LIMIT + 1024, 1024 * 1024, 16 * 1024 * 1024])
def test_a_head_over_the_bound_gets_431_and_the_connection_closes(api, size):
    reply = _exchange(api.port, b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 431"), reply[:200]
    assert b'"code":"request_header_too_large"' in reply
    assert b"connection: close" in reply.lower()


def test_a_head_under_the_bound_is_served(api):
    reply = _exchange(api.port, b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (LIMIT - 1024) + b"\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]


def _write(user_id: str, padding: int) -> bytes:
    body = b'{"user_id": "%s", "practice": {"notes": "%s"}}' % (user_id.encode(), b"n" * padding)
    return (
        b"POST /map HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {admin_token()}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def test_bodies_and_pipelined_requests_are_not_counted_as_heads(api):
    """Two writes of 40 KB bodies and a GET sent at once: 80 KB arrive before the GET's head, none of it a head."""
    payload = (
        _write("head-bound-a", 40_000) + _write("head-bound-b", 40_000) + b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    reply = _exchange(api.port, payload, answers=3)
    assert reply.count(b"HTTP/1.1 ") == 3, reply[:300]
    assert b"431" not in reply.split(b"\r\n", 1)[0]
    assert b"request_header_too_large" not in reply


def test_a_trailer_that_never_ends_is_refused_like_a_header(api):
    """Chunked trailers come after the head; httptools gathers them the same way, so their bytes are bounded too."""
    head = b"POST /map HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    payload = head + f"Authorization: Bearer {admin_token()}\r\n\r\n".encode() + b"2\r\n{}\r\n0\r\nX-Trailer: "
    reply = _exchange(api.port, payload + b"a" * (1024 * 1024))
    assert reply.startswith(b"HTTP/1.1 431"), reply[:200]
    assert b"request_header_too_large" in reply


def test_the_refusal_comes_after_the_answers_to_earlier_pipelined_requests(api):
    payload = b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n" + b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000
    reply = _exchange(api.port, payload + b"\r\n\r\n", answers=2)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert reply.count(b"HTTP/1.1 431") == 1, reply[:400]
    assert reply.index(b"HTTP/1.1 431") > reply.index(b'{"status":"ok"}')
