"""A deliberately faulty HTTP/1.1 server on loopback, in its own thread, for classifying the check's failures."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.loop_thread import serve_in_thread

MODES = ("ok", "status500", "slow", "reset", "wrong_body", "redirect", "stale_version", "echo", "silent")
LIVEZ = b'{"status":"ok"}'


@dataclass
class FaultyServer:
    """Answers /livez well and /heartbeat and /map according to `mode`; `port` is set once it listens."""

    mode: str = "ok"
    delay_s: float = 0.0
    tls: ssl.SSLContext | None = None
    port: int = 0
    versions: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                if path == "/livez" and self.mode != "redirect":
                    status, payload, extra = 200, LIVEZ, {}
                else:
                    if self.mode == "silent":  # accepts and reads the request, never answers
                        await asyncio.Event().wait()
                    if self.mode == "slow" or self.delay_s:
                        await asyncio.sleep(self.delay_s)
                    if self.mode == "reset":
                        sock = writer.get_extra_info("socket")
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        writer.transport.abort()
                        return
                    if self.mode == "echo":  # an API that quotes the credential it rejects
                        quoted = json.dumps({"error": f"token rejected: {headers.get('authorization', '')}"})
                        status, payload, extra = 401, quoted.encode(), {}
                    else:
                        status, payload, extra = self._answer(method, path, body, headers.get("host", ""))
                extra["Content-Length"] = str(len(payload))
                fields = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{fields}\r\n".encode() + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ssl.SSLError, OSError):
            pass
        finally:
            writer.close()

    def _answer(self, method: str, path: str, body: bytes, host: str) -> tuple[int, bytes, dict[str, str]]:
        if self.mode == "status500":
            return 500, b'{"error":{"code":"internal","message":"boom"}}', {}
        if self.mode == "status429":  # an edge whose per-client allowance is spent
            return 429, b'{"error":{"code":"rate_limited","message":"slow down"}}', {"Retry-After": "37"}
        if self.mode == "redirect":
            return 301, b"{}", {"Location": f"https://{host.split(':')[0]}{path}"}
        if path == "/heartbeat":
            if self.mode == "wrong_body":
                return 200, b"hello from something else", {}
            doc = {"service": "faulty", "version": "1", "status": "ok", "database": {"ok": True, "latency_ms": 0.5}}
            return 200, json.dumps(doc).encode(), {}
        if path == "/map" and method == "POST":
            user_id = json.loads(body)["user_id"]
            version = self.versions.get(user_id, 0) + (
                0 if self.mode == "stale_version" and user_id in self.versions else 1
            )
            self.versions[user_id] = version
            return (201 if version == 1 else 200), json.dumps({"user_id": user_id, "version": version}).encode(), {}
        return 404, b"{}", {}

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"


@dataclass
class RawServer:
    """Answers the first request of each connection with `answer` (raw bytes, or nothing when None), then keeps the
    connection open without reading or answering again, as a server that meant to close it and never did."""

    answer: bytes | None = None
    tls: ssl.SSLContext | None = None
    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            self.requests.append(await reader.readuntil(b"\r\n\r\n"))
            if self.answer is not None:
                writer.write(self.answer)
                await writer.drain()
            await asyncio.Event().wait()  # hold the connection until the server stops
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ssl.SSLError, OSError):
            pass
        finally:
            writer.close()

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"


@contextmanager
def serve(server: FaultyServer | RawServer) -> Iterator[FaultyServer | RawServer]:
    """Run the server on a loop in a daemon thread until the block ends."""
    with serve_in_thread(server._handle, tls=server.tls) as port:
        server.port = port
        yield server
