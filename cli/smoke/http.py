"""A lean HTTP/1.1 keep-alive client whose latencies come from kernel receive timestamps, not the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any

import httptools

MAX_HEAD = 65536
"""Largest status line plus headers accepted before the answer counts as malformed."""
MAX_BODY = 16 * 1048576
"""Largest body accepted: the check's endpoints answer a few hundred bytes, a stream without end is a fault."""
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
    """The bytes of one HTTP/1.1 request; a line break in any part is refused, so nothing can add a header."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: infra-smoke"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if any("\r" in line or "\n" in line or "\0" in line for line in lines):
        raise ValueError("a request line or header carries a line break or NUL")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class Parser:
    """Turns the bytes of answers into Responses; llhttp (through httptools) does the HTTP/1.x parsing.

    One request is outstanding at a time, so any byte past a complete answer means the server and the client no
    longer agree on where answers end: that answer is returned with `keep_alive` off, which closes the connection.
    """

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._done: list[Response] = []
        self._begin()  # sets every per-answer field
        self._started = False

    def _begin(self) -> None:
        self._started = True
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_size = 0
        self._head_size = 0
        self._in_head = True

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]}, {text}" if key in self._headers else text

    def on_headers_complete(self) -> None:
        self._in_head = False

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > MAX_BODY:
            raise ProtocolError(f"answer body larger than {MAX_BODY // 1048576} MiB")
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if status >= 200:  # 1xx answers are interim: the real one follows
            body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
            self._done.append(Response(status, self._headers, body, self._parser.should_keep_alive()))
        self._started, self._in_head = False, True

    def feed(self, data: bytes) -> Response | None:
        """Add bytes; the answer once it is complete."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise ProtocolError("the server switched protocols (101) though the request asked for no upgrade") from None
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, ProtocolError):
                raise exc.__context__ from None
            raise ProtocolError(f"not an HTTP/1.x answer: {exc}") from None
        if not self._done:
            if self._started and self._in_head:
                self._head_size += len(data)
                if self._head_size > MAX_HEAD:
                    raise ProtocolError(f"answer head larger than {MAX_HEAD // 1024} KiB")
            return None
        response = self._done[0]
        if len(self._done) > 1 or self._started:
            response.keep_alive = False
        self._done.clear()
        return response

    def finish(self) -> Response | None:
        """The connection ended: the answer it completed, or ResetError when it cut one short."""
        if not self._started:
            raise ResetError("the connection closed before an answer")
        if self._in_head:
            raise ResetError("the connection closed in the middle of the answer's head")
        length = self._headers.get("content-length")
        if "chunked" in self._headers.get("transfer-encoding", "").lower():
            raise ResetError("the connection closed in the middle of a chunked body")
        if length is not None:
            raise ResetError(f"the connection closed after {self._body_size} of {length} body bytes")
        # Neither a length nor chunks: the body is whatever came before the connection closed.
        self._started = False
        return Response(self._parser.get_status_code(), self._headers, b"".join(self._body), False)


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
        pieces, closed = [], False
        while True:
            try:
                chunk = self.tls.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            pieces.append(chunk)
        response = self.parser.feed(b"".join(pieces)) if pieces else None
        if response is None and closed:
            return self.parser.finish()
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
