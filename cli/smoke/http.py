"""A lean HTTP/1.1 keep-alive client whose latencies come from kernel receive timestamps, not the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import Any

MAX_HEAD = 65536
"""Largest status line plus headers accepted before the answer counts as malformed."""
READ_SIZE = 262144
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform.startswith("linux") else None)
"""Linux's receive-timestamp option (asm-generic value; Python does not name it); SCM_TIMESTAMPNS is the same."""
_ANCILLARY = socket.CMSG_SPACE(16) if hasattr(socket, "CMSG_SPACE") else 0


class ConnectError(OSError):
    """The TCP connection could not be made (refused, unreachable, no route)."""


class ResetError(ConnectionError):
    """The server closed or reset the connection before the answer was complete."""


class ProtocolError(Exception):
    """The server's bytes are not an HTTP/1.x answer."""


@dataclass(frozen=True)
class Endpoint:
    """Where to connect (an address, or the shaping proxy) and what the service is called (Host, SNI)."""

    address: str
    port: int
    host_header: str
    tls: ssl.SSLContext | None = None
    server_hostname: str | None = None


@dataclass(slots=True)
class Response:
    """A complete answer."""

    status: int
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


def build_request(method: str, path: str, host: str, headers: dict[str, str], body: bytes | None = None) -> bytes:
    """The bytes of one HTTP/1.1 request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: infra-smoke"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


@dataclass
class Parser:
    """Turns the bytes of answers into Responses: Content-Length, chunked, or delimited by the connection closing."""

    buffer: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.length: int | None = None
        self.chunked = False
        self.chunks: list[bytes] = []
        self.keep_alive = True

    def feed(self, data: bytes) -> Response | None:
        """Add bytes; the answer once it is complete."""
        self.buffer += data
        return self._parse(eof=False)

    def finish(self) -> Response | None:
        """The connection ended: the answer it completed, or ResetError when it cut one short."""
        return self._parse(eof=True)

    def _head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                raise ProtocolError("answer head larger than 64 KiB")
            return False
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:60]!r}")
        status = int(code)
        if 100 <= status < 200:
            return True
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.status, self.headers = status, headers
        connection = headers.get("connection", "").lower()
        self.keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.chunked = True
        elif "content-length" in headers:
            text = headers["content-length"]
            if not text.isdigit():
                raise ProtocolError(f"bad Content-Length {text[:20]!r}")
            self.length = int(text)
        elif status in (204, 304):
            self.length = 0
        else:
            self.keep_alive = False
        return True

    def _chunks(self) -> bool:
        """Consume chunks; True once the last chunk and the trailers are in."""
        while True:
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return False
            size_text = bytes(self.buffer[:line_end]).split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
            if size == 0:
                trailer_end = self.buffer.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    return False
                del self.buffer[: trailer_end + 4]
                return True
            start = line_end + 2
            if len(self.buffer) < start + size + 2:
                return False
            self.chunks.append(bytes(self.buffer[start : start + size]))
            del self.buffer[: start + size + 2]

    def _parse(self, eof: bool) -> Response | None:
        while self.status is None:
            if not self._head():
                if eof:
                    raise ResetError("the connection closed before an answer")
                return None
        if self.chunked:
            if not self._chunks():
                if eof:
                    raise ResetError("the connection closed in the middle of a chunked body")
                return None
            body = b"".join(self.chunks)
        elif self.length is not None:
            if len(self.buffer) < self.length:
                if eof:
                    raise ResetError(f"the connection closed after {len(self.buffer)} of {self.length} body bytes")
                return None
            body = bytes(self.buffer[: self.length])
            del self.buffer[: self.length]
        else:
            if not eof:
                return None
            body = bytes(self.buffer)
            self.buffer.clear()
        response = Response(self.status, self.headers, body, self.keep_alive)
        self._reset()
        return response


def _kernel_time_ns(ancillary: list[tuple[int, int, bytes]]) -> int:
    """When the kernel received the bytes (SO_TIMESTAMPNS), or now when it did not say."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanos = struct.unpack("qq", data[:16])
            return seconds * 1_000_000_000 + nanos
    return time.time_ns()


class Connection:
    """One TCP (and TLS) connection driven from the event loop without a transport, so reads carry timestamps."""

    def __init__(self, sock: socket.socket, tls: ssl.SSLObject | None) -> None:
        self.sock = sock
        self.tls = tls
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.parser = Parser()
        self.closed = False
        self._waiter: asyncio.Future[tuple[Response, int]] | None = None

    @classmethod
    async def open(cls, endpoint: Endpoint, timeout_s: float) -> Connection:
        """Connect, then shake hands when the endpoint uses TLS; errors say which step failed."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in endpoint.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        connection = cls(sock, None)
        try:
            async with asyncio.timeout(timeout_s):
                try:
                    await loop.sock_connect(sock, (endpoint.address, endpoint.port))
                except OSError as exc:
                    where = f"{endpoint.address}:{endpoint.port}"
                    raise ConnectError(exc.errno, f"cannot connect to {where}: {exc.strerror or exc}") from None
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if SO_TIMESTAMPNS is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                if endpoint.tls is not None:
                    connection.tls = endpoint.tls.wrap_bio(
                        connection.incoming, connection.outgoing, server_hostname=endpoint.server_hostname
                    )
                    await connection._handshake()
        except TimeoutError:
            connection.close()
            raise TimeoutError(f"no connection within {timeout_s:g} s") from None
        except BaseException:
            connection.close()
            raise
        return connection

    async def _handshake(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.tls is not None
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pending = self.outgoing.read()
                if pending:
                    await loop.sock_sendall(self.sock, pending)
                data = await loop.sock_recv(self.sock, READ_SIZE)
                if not data:
                    raise ResetError("the server closed the connection during the TLS handshake") from None
                self.incoming.write(data)
        pending = self.outgoing.read()
        if pending:
            await loop.sock_sendall(self.sock, pending)

    async def request(self, payload: bytes, timeout_s: float) -> tuple[Response, int]:
        """Send one request; the answer and the kernel time (ns, wall clock) its last bytes arrived."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[Response, int]] = loop.create_future()
        self._waiter = waiter
        fd = self.sock.fileno()
        loop.add_reader(fd, self._readable)
        handle = loop.call_later(timeout_s, self._expire, waiter, timeout_s)
        try:
            self._write(payload)
            return await waiter
        finally:
            handle.cancel()
            self._waiter = None
            if not self.closed:
                loop.remove_reader(fd)

    def _write(self, payload: bytes) -> None:
        if self.tls is not None:
            self.tls.write(payload)
            payload = self.outgoing.read()
        try:
            sent = self.sock.send(payload)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise ResetError(f"sending failed: {exc.strerror or exc}") from None
        if sent < len(payload):
            task = asyncio.get_running_loop().create_task(
                asyncio.get_running_loop().sock_sendall(self.sock, payload[sent:])
            )
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._fail(ResetError(f"sending failed: {task.exception()}"))

    @staticmethod
    def _expire(waiter: asyncio.Future[Any], timeout_s: float) -> None:
        if not waiter.done():
            waiter.set_exception(TimeoutError(f"no answer within {timeout_s:g} s"))

    def _fail(self, exc: BaseException) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    def _readable(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(READ_SIZE, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(ConnectionResetError(exc.errno, exc.strerror or str(exc)))
            return
        arrived = _kernel_time_ns(ancillary)
        try:
            response = self._plaintext(data)
        except (ProtocolError, ResetError, ssl.SSLError) as exc:
            self._fail(exc)
            return
        if response is not None and self._waiter is not None and not self._waiter.done():
            self._waiter.set_result((response, arrived))

    def _plaintext(self, data: bytes) -> Response | None:
        """Feed what arrived to TLS (when used) and the parser; an empty read means the server closed."""
        if self.tls is None:
            return self.parser.feed(data) if data else self.parser.finish()
        if not data:
            return self.parser.finish()
        self.incoming.write(data)
        response = None
        while True:
            try:
                chunk = self.tls.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                return self.parser.finish()
            if not chunk:
                return self.parser.finish()
            response = self.parser.feed(chunk) or response
        return response

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(RuntimeError, ValueError):
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()


class Client:
    """One keep-alive connection, opened on first use and again after the server or a failure closed it."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._connection: Connection | None = None

    async def send(self, payload: bytes, timeout_s: float) -> tuple[Response, float, float]:
        """Send one request: the answer, when it started (perf_counter) and its latency in ms.

        The latency runs from just before the request is written (or its connection opened) to the kernel's
        receive time of the answer's last bytes, so the client's own work on other requests does not count.
        """
        started, started_ns = time.perf_counter(), time.time_ns()
        try:
            if self._connection is None or self._connection.closed:
                self._connection = await Connection.open(self.endpoint, timeout_s)
                remaining = timeout_s - (time.perf_counter() - started)
            else:
                remaining = timeout_s
                started, started_ns = time.perf_counter(), time.time_ns()
            response, arrived_ns = await self._connection.request(payload, max(remaining, 0.0))
        except BaseException:
            self.close()
            raise
        if not response.keep_alive:
            self.close()
        return response, started, max(arrived_ns - started_ns, 0) / 1e6

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
