"""A small real API on loopback with a worker, a read-through cache and a per-client limiter, for the backend checks."""

from __future__ import annotations

import asyncio
import json
import math
import re
import ssl
import time
from dataclasses import dataclass, field

_RECORD = re.compile(r"/map/([^/]+)(/summary)?")
SETTLING_READS = 3
RATE_LIMITED = {"error": {"code": "rate_limited", "message": "too many requests from this address; retry later"}}


@dataclass
class TokenBucket:
    """Per-client limit: `allowance` requests at once, refilled at `limit` per `window_s` (nginx's limit_req)."""

    limit: int
    window_s: float
    allowance: int
    retry_after: bool = True
    json_body: bool = True
    _clients: dict[str, tuple[float, float]] = field(default_factory=dict)

    def admit(self, client: str) -> bool:
        now = time.monotonic()
        tokens, then = self._clients.get(client, (float(self.allowance), now))
        tokens = min(self.allowance, tokens + (now - then) * self.limit / self.window_s)
        admitted = tokens >= 1
        self._clients[client] = (tokens - 1 if admitted else tokens, now)
        return admitted

    def refusal(self) -> tuple[int, bytes, dict[str, str]]:
        headers = {"Retry-After": str(math.ceil(self.window_s / self.limit))} if self.retry_after else {}
        body = json.dumps(RATE_LIMITED).encode() if self.json_body else b"<html>too many requests</html>"
        return 429, body, headers


@dataclass
class BackendServer:
    """/livez, /heartbeat, POST /map, GET /map/{id} (read-through cache) and GET /map/{id}/summary (worker-made)."""

    has_cache: bool = True
    """The heartbeat reports a cache; without it the read routes are absent too, as on a service that predates them."""
    read_routes: bool = True
    cache_up: bool = True
    cache_off: bool = False
    """The heartbeat says the stack runs without a cache (`state: off`), as the API does when none is configured."""
    cache_mode: str = "on"
    """on: reads through the cache; off: `X-Cache: off`; never_hits: every read misses; no_header: no X-Cache;
    stale: writes leave the cached copy in place; settles_later: the first SETTLING_READS reads after a write miss
    and install nothing (the API's write-in-progress mark until the write's refresh lands)."""
    worker_running: bool = True
    echo_token: bool = False
    """The summary route fails with 500 and quotes the request's Authorization header back."""
    limiter: TokenBucket | None = None
    tls: ssl.SSLContext | None = None
    port: int = 0
    records: dict[str, dict] = field(default_factory=dict)
    summaries: dict[str, dict] = field(default_factory=dict)
    cached: dict[str, dict] = field(default_factory=dict)
    unsettled: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def __post_init__(self) -> None:
        self._events: asyncio.Queue[tuple[str, int]] | None = None
        self._worker: asyncio.Task | None = None

    async def _work(self) -> None:
        """Applies each write's event to the user's summary, in order, while `worker_running`."""
        assert self._events is not None
        while True:
            user_id, version = await self._events.get()
            summary = self.summaries.setdefault(user_id, {"user_id": user_id, "writes": 0, "last_version": 0})
            summary["writes"] += 1
            summary["last_version"] = max(summary["last_version"], version)
            summary["updated_at"] = time.time()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._events is None:
            self._events = asyncio.Queue()
            if self.worker_running:
                self._worker = asyncio.get_running_loop().create_task(self._work())
        client = writer.get_extra_info("peername")[0]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                if self.limiter is not None and not self.limiter.admit(client):
                    status, payload, extra = self.limiter.refusal()
                else:
                    status, payload, extra = self._answer(method, path, body, headers.get("authorization", ""))
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

    def _answer(self, method: str, path: str, body: bytes, authorization: str) -> tuple[int, bytes, dict[str, str]]:
        if path == "/livez":
            return 200, b'{"status":"ok"}', {}
        if path == "/heartbeat":
            doc = {"service": "backend", "version": "1", "status": "ok", "database": {"ok": True, "latency_ms": 0.4}}
            if self.cache_off:
                doc["cache"] = {"ok": False, "state": "off", "latency_ms": None}
            elif self.has_cache:
                doc["cache"] = {"ok": self.cache_up, "latency_ms": 0.2 if self.cache_up else None}
                doc["status"] = "ok" if self.cache_up else "degraded"
            return 200, json.dumps(doc).encode(), {}
        if path == "/map" and method == "POST":
            user_id = json.loads(body)["user_id"]
            record = self.records.setdefault(user_id, {"user_id": user_id, "version": 0})
            record["version"] += 1
            if self.cache_mode != "stale":
                self.cached.pop(user_id, None)  # invalidated on write
            self.unsettled[user_id] = SETTLING_READS if self.cache_mode == "settles_later" else 0
            assert self._events is not None
            self._events.put_nowait((user_id, record["version"]))
            return (201 if record["version"] == 1 else 200), json.dumps(record).encode(), {}
        match = _RECORD.fullmatch(path)
        if match is None or not (self.has_cache and self.read_routes):
            return 404, b'{"error":{"code":"not_found","message":"no such route"}}', {}
        if method != "GET":
            return 405, b'{"error":{"code":"method_not_allowed","message":"GET only"}}', {}
        user_id = match[1]
        if match[2]:
            if self.echo_token:
                return 500, json.dumps({"error": f"cannot serve {authorization}"}).encode(), {}
            summary = self.summaries.get(user_id)
            if summary is None:
                return 404, b'{"error":{"code":"not_found","message":"no summary yet"}}', {}
            return 200, json.dumps(summary).encode(), {}
        return self._read(user_id)

    def _read(self, user_id: str) -> tuple[int, bytes, dict[str, str]]:
        record = self.records.get(user_id)
        if record is None:
            return 404, b'{"error":{"code":"not_found","message":"no such record"}}', {}
        if self.cache_mode == "off":
            return 200, json.dumps(record).encode(), {"X-Cache": "off"}
        if self.cache_mode == "no_header":
            return 200, json.dumps(record).encode(), {}
        if self.cache_up and self.cache_mode in ("on", "stale", "settles_later") and user_id in self.cached:
            return 200, json.dumps(self.cached[user_id]).encode(), {"X-Cache": "hit"}
        if self.unsettled.get(user_id, 0) > 0:
            self.unsettled[user_id] -= 1
            if not self.unsettled[user_id]:  # the write's own refresh lands
                self.cached[user_id] = dict(record)
        elif self.cache_up:
            self.cached[user_id] = dict(record)
        return 200, json.dumps(record).encode(), {"X-Cache": "miss"}

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"
