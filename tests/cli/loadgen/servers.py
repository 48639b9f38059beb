"""Small real HTTP/1.1 servers on loopback, in their own thread, whose behaviour under load is known in advance."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import struct
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from cli.local.processes import free_port, wait_for_port
from tests.loop_thread import serve_in_thread

HEARTBEAT = {"service": "loadtest", "version": "1", "status": "ok", "database": {"ok": True, "latency_ms": 0.2}}
TOKEN = "load-test-token-0123456789abcdef"


@dataclass
class Behaviour:
    """Answers at once; subclasses delay or spoil answers. `answer` may sleep; it returns what to send, or None to
    reset the connection without an answer."""

    started: float = field(default_factory=time.monotonic)
    records: dict[str, int] = field(default_factory=dict)
    served: Counter[str] = field(default_factory=Counter)

    async def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes] | None:
        self.served["ok"] += 1
        return self.route(method, path, headers, body)

    def route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if path == "/heartbeat":
            return 200, json.dumps(HEARTBEAT).encode()
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, b'{"error":{"code":"unauthorized"}}'
        if method == "POST" and path == "/map":
            user_id = json.loads(body)["user_id"]
            self.records[user_id] = self.records.get(user_id, 0) + 1
            return 200, json.dumps({"user_id": user_id, "version": self.records[user_id]}).encode()
        if method == "GET" and path.startswith("/map/"):
            user_id = unquote(path.removeprefix("/map/"))
            if user_id not in self.records:
                return 404, b'{"error":{"code":"not_found"}}'
            return 200, json.dumps({"user_id": user_id, "version": self.records[user_id]}).encode()
        return 404, b'{"error":{"code":"not_found"}}'


@dataclass
class Stalls(Behaviour):
    """Stops answering for `stall_s` at the start of every `period_s` (counted from `started`): a request that
    arrives during a stall is answered when it ends, like a server in a garbage-collection pause."""

    period_s: float = 0.5
    stall_s: float = 0.1

    async def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes] | None:
        into = (time.monotonic() - self.started) % self.period_s
        if into < self.stall_s:
            self.served["stalled"] += 1
            await asyncio.sleep(self.stall_s - into)
        return await super().answer(method, path, headers, body)


@dataclass
class Fails(Behaviour):
    """Of every ten requests (in arrival order), one gets a 500, one a 200 that is not the expected JSON, and one
    a reset connection; `served` counts each kind as it is given."""

    count: int = 0

    async def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes] | None:
        self.count += 1
        turn = self.count % 10
        if turn == 3:
            self.served["http_500"] += 1
            return 500, b'{"error":{"code":"internal"}}'
        if turn == 6:
            self.served["wrong_body"] += 1
            return 200, b"<html>a login page</html>"
        if turn == 9:
            self.served["reset"] += 1
            return None
        return await super().answer(method, path, headers, body)


@dataclass
class Queue(Behaviour):
    """One request at a time, each taking `service_s`: a capacity of exactly 1 / service_s requests per second.

    Finish times are computed (the previous finish or the arrival, plus the service time) and slept to, so the
    timer's coarseness does not add up over a run."""

    service_s: float = 0.005
    _free_at: float = 0.0

    async def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes] | None:
        now = time.monotonic()
        self._free_at = max(self._free_at, now) + self.service_s
        await asyncio.sleep(self._free_at - now)
        return await super().answer(method, path, headers, body)


@dataclass
class Server:
    behaviour: Behaviour
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                answer = await self.behaviour.answer(method, path, headers, body)
                if answer is None:
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                status, payload = answer
                head = (
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
                )
                writer.write(head.encode() + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.CancelledError, OSError):
            pass
        finally:
            writer.close()


@contextmanager
def serve(behaviour: Behaviour) -> Iterator[Server]:
    """Run the server on a loop in a daemon thread until the block ends; `port` is set once it listens."""
    server = Server(behaviour)
    with serve_in_thread(server.handle, backlog=1024) as port:
        server.port = port
        behaviour.started = time.monotonic()
        yield server


NGINX_HEARTBEAT = json.dumps(HEARTBEAT, separators=(",", ":"))


def nginx_config(base: Path, port: int, workers: int = 1) -> str:
    """nginx answering every path with a fixed heartbeat from `return 200`: a server faster than the generator."""
    temp = "\n".join(
        f"  {kind}_temp_path {base / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""  # the workers must read the private directory
    return f"""{user}worker_processes {workers};
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
{temp}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ default_type application/json; return 200 '{NGINX_HEARTBEAT}'; }}
  }}
}}
"""


@contextmanager
def nginx(base: Path, workers: int = 1) -> Iterator[int]:
    """Debian's nginx on a free loopback port from a config in `base`; yields the port."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if binary is None:
        raise FileNotFoundError("nginx is not installed (scripts/setup.sh installs nginx-light)")
    port = free_port()
    (base / "nginx.conf").write_text(nginx_config(base, port, workers))
    process = subprocess.Popen(
        [binary, "-p", str(base), "-c", str(base / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 10, "nginx", base / "error.log", process.pid)
        yield port
    finally:
        process.terminate()
        process.wait(10)
