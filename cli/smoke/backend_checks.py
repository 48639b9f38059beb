"""Checks of the backend behind the API: the cache on /heartbeat, the worker's asynchronous path, cache reads."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cli.smoke.classify import classify_exception
from cli.smoke.http import Client, Endpoint, Response, build_request
from cli.smoke.preflight import FAIL, PASS, SKIP, WARN, Check
from cli.smoke.redact import Redactor

DEFAULT_ASYNC_TIMEOUT_S = 10.0
"""How long the worker may take to apply a write before the asynchronous path fails."""
FIRST_POLL_S = 0.01
MAX_POLL_S = 0.25
"""Polls of the summary start 10 ms apart and back off to 250 ms: quick on a fast worker, light on a slow one."""
CACHE_SETTLE_S = 1.0
"""How long after a write's answer its refresh may take to reach the cache: the API sends it without the request
waiting (within a few ms); reads meanwhile come from the database (`X-Cache: miss`)."""
CACHE_HIT = "hit"
CACHE_OFF = "off"


class _Stop(Exception):
    """A backend check ended early with this outcome."""

    def __init__(self, check: Check):
        super().__init__(check.summary)
        self.check = check


@dataclass
class BackendProbe:
    """What the checks share: one keep-alive connection, the path prefix, the token, the run's record names."""

    where: Endpoint
    prefix: str
    token: str | None = field(repr=False)
    run_id: str
    timeout_s: float
    degraded: bool = False
    """The heartbeat reported the cache down: a failing check is then a warning, the service said why."""
    sent: int = 0
    """Requests made, counted against the edge's per-client limit by a burst check that follows."""

    def __post_init__(self) -> None:
        self.client = Client(self.where)
        self._redact = Redactor(self.token)

    async def send(
        self, name: str, method: str, path: str, body: dict[str, Any] | None = None, timeout_s: float | None = None
    ) -> tuple[Response, float, float]:
        """One request: (answer, when it started (perf_counter), latency ms); a transport failure ends the check."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body).encode()
        request = build_request(method, self.prefix + path, self.where.host_header, headers, payload)
        self.sent += 1
        try:
            return await self.client.send(request, self.timeout_s if timeout_s is None else timeout_s)
        except Exception as exc:
            kind, detail = classify_exception(exc)
            raise _Stop(self.outcome(name, FAIL, f"{method} {path}: {kind}: {self._redact.text(detail)}")) from None

    def outcome(self, name: str, status: str, summary: str, took: float | None = None, **data: Any) -> Check:
        if status == FAIL and self.degraded:
            status, summary = WARN, f"{summary} (the service reports the cache down: degraded)"
        return Check(name, status, summary, took, data)

    def snippet(self, response: Response) -> str:
        text = self._redact.body(response.body)[:120].decode("utf-8", "replace").replace("\n", " ")
        return f"{response.status} {text}"

    async def route_exists(self, name: str, path: str) -> bool:
        """Whether the service routes `path` at all: a GET-only route answers another method with 405, none with 404.

        A 404 from GET cannot tell "no such record" from "no such route"; a POST with no body to the same path can.
        """
        response, _, _ = await self.send(name, "POST", path)
        return response.status != 404

    async def write(self, name: str, user_id: str) -> tuple[int, float]:
        """POST /map for a fresh record: its version and when the request started (perf_counter)."""
        body = {"user_id": user_id, "practice": {"check": "infra smoke", "run": self.run_id, "step": name}}
        response, started, _ = await self.send(name, "POST", "/map", body)
        doc = _json(response.body)
        version = doc.get("version") if isinstance(doc, dict) else None
        if response.status not in (200, 201) or not isinstance(version, int) or isinstance(version, bool):
            raise _Stop(self.outcome(name, FAIL, f"the write was not confirmed: {self.snippet(response)}"))
        return version, started

    def close(self) -> None:
        self.client.close()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _path(user_id: str, suffix: str = "") -> str:
    return f"/map/{quote(user_id, safe='')}{suffix}"


async def heartbeat(probe: BackendProbe) -> tuple[Check, bool]:
    """The cache as /heartbeat reports it, and whether the service has one at all."""
    # A heartbeat that fails is already a failure of the requests; here it only means nothing can be told.
    try:
        response, _, took = await probe.send("cache", "GET", "/heartbeat")
    except _Stop as stop:
        return Check("cache", SKIP, f"cannot tell: {stop.check.summary}"), False
    doc = _json(response.body)
    if response.status != 200 or not isinstance(doc, dict):
        return Check("cache", SKIP, f"cannot tell: /heartbeat answered {probe.snippet(response)}", took), False
    cache = doc.get("cache")
    if cache is None:
        summary = "/heartbeat reports no cache: the service predates the cache and worker"
        return Check("cache", SKIP, summary, took), False
    if not isinstance(cache, dict) or not isinstance(cache.get("ok"), bool):
        return probe.outcome("cache", FAIL, f"/heartbeat's cache is not {{ok, latency_ms}}: {cache!r:.80}", took), True
    if cache.get("state") == "off" and doc.get("status") == "ok":
        # The stack runs without a cache (and so without the worker its events travel through): nothing to check.
        return Check("cache", SKIP, "/heartbeat reports the stack runs no cache (state off)", took), False
    latency = cache.get("latency_ms")
    latency = float(latency) if isinstance(latency, int | float) and not isinstance(latency, bool) else None
    data = {"service_status": doc.get("status"), "cache_ok": cache["ok"], "cache_latency_ms": latency}
    if not cache["ok"] or doc.get("status") == "degraded":
        probe.degraded = True
        summary = f"degraded: /heartbeat reports the cache down (status {doc.get('status')!r})"
        return Check("cache", WARN, summary, took, data), True
    shown = "" if latency is None else f", round trip {latency:.1f} ms"
    return Check("cache", PASS, f"/heartbeat reports the cache ok{shown}", took, data), True


async def async_path(probe: BackendProbe, timeout_s: float) -> Check:
    """A write is applied by the worker within `timeout_s`: POST /map, then poll its summary until it shows it."""
    name = "async"
    user_id = f"smoke-{probe.run_id}-async"
    if not await probe.route_exists(name, _path(user_id, "/summary")):
        return Check(name, SKIP, "the service has no GET /map/{user_id}/summary route (404)")
    version, began = await probe.write(name, user_id)
    wait, polls, last = FIRST_POLL_S, 0, "no answer"
    give_up = began + timeout_s
    while True:
        left = max(give_up - time.perf_counter(), 0.001)
        response, started, latency_ms = await probe.send(
            name, "GET", _path(user_id, "/summary"), timeout_s=min(probe.timeout_s, left)
        )
        polls += 1
        doc = _json(response.body)
        if response.status == 200 and isinstance(doc, dict):
            seen = doc.get("last_version")
            if doc.get("user_id") != user_id or not isinstance(seen, int) or isinstance(seen, bool):
                return probe.outcome(name, FAIL, f"the summary is not this record's: {probe.snippet(response)}")
            if seen >= version:
                e2e_ms = (started - began) * 1000 + latency_ms
                plural = "s" if polls > 1 else ""
                summary = f"write version {version} applied by the worker in {e2e_ms:.1f} ms ({polls} poll{plural})"
                return Check(name, PASS, summary, e2e_ms, {"latency_ms": round(e2e_ms, 3), "polls": polls})
            last = f"last_version {seen}"
        elif response.status == 404:
            last = "404: not applied yet"
        else:
            return probe.outcome(name, FAIL, f"the summary answered {probe.snippet(response)}")
        now = time.perf_counter()
        if now >= give_up:
            summary = f"the worker did not apply write version {version} within {timeout_s:g} s ({polls} polls, {last})"
            return probe.outcome(name, FAIL, summary, (now - began) * 1000, polls=polls)
        await asyncio.sleep(min(wait, give_up - now))
        wait = min(wait * 1.5, MAX_POLL_S)


async def cache_read(probe: BackendProbe) -> Check:
    """After a write, GET /map/{id} until a read is served from the cache (within CACHE_SETTLE_S of the first): all
    show the write; then a second write must not leave the cached copy behind (the cache is invalidated on write)."""
    name = "cache_read"
    user_id = f"smoke-{probe.run_id}-cache"
    if not await probe.route_exists(name, _path(user_id)):
        return Check(name, SKIP, "the service has no GET /map/{user_id} route (404)")

    async def read(version: int) -> tuple[str, float]:
        response, _, latency_ms = await probe.send(name, "GET", _path(user_id))
        doc = _json(response.body)
        if response.status != 200 or not isinstance(doc, dict) or doc.get("user_id") != user_id:
            raise _Stop(
                probe.outcome(name, FAIL, f"reading the record just written answered {probe.snippet(response)}")
            )
        if doc.get("version") != version:
            summary = f"read version {doc.get('version')!r} after writing version {version}: a stale read"
            raise _Stop(probe.outcome(name, FAIL, summary))
        return response.headers.get("x-cache", "").strip().lower(), latency_ms

    version, _ = await probe.write(name, user_id)
    first, first_ms = await read(version)
    began = time.perf_counter()
    second, second_ms = await read(version)
    reads, wait = 2, FIRST_POLL_S
    while (
        not probe.degraded and second not in (CACHE_HIT, CACHE_OFF, "") and time.perf_counter() - began < CACHE_SETTLE_S
    ):
        await asyncio.sleep(wait)
        wait = min(wait * 1.5, MAX_POLL_S)
        second, second_ms = await read(version)
        reads += 1
    data = {"first": {"x_cache": first, "latency_ms": round(first_ms, 3)}}
    data["second"] = {"x_cache": second, "latency_ms": round(second_ms, 3), "reads": reads}
    shown = f"first read {first or '-'} {first_ms:.1f} ms, read {reads} {second or '-'} {second_ms:.1f} ms"
    if CACHE_OFF in (first, second):
        return Check(name, SKIP, f"the service reads without a cache (X-Cache: off); {shown}", second_ms, data)
    if not second:
        return probe.outcome(name, FAIL, f"the reads carry no X-Cache header; {shown}", second_ms, **data)
    if second != CACHE_HIT:
        summary = f"no read within {CACHE_SETTLE_S:g} s of the first was served from the cache; {shown}"
        return probe.outcome(name, FAIL, summary, second_ms, **data)
    version, _ = await probe.write(name, user_id)
    await read(version)  # a cached copy left behind by the write would answer the old version
    return Check(name, PASS, f"{shown}; a new write was read back at once", second_ms, data)


async def run_backend_checks(
    probe: BackendProbe,
    *,
    writes: bool,
    async_timeout_s: float,
    into: list[Check],
    more: Sequence[Callable[[BackendProbe, bool], Awaitable[Check]]] = (),
) -> None:
    """The cache on /heartbeat, then (with writes) the asynchronous path and the cache read, then each of `more`
    (given the probe and whether the run writes), appended to `into`."""
    try:
        check, has_cache = await heartbeat(probe)
        into.append(check)
        runs: list[Callable[[], Awaitable[Check]]] = []
        if not has_cache:
            into += [Check(n, SKIP, check.summary) for n in ("async", "cache_read")]
        elif not writes:
            into += [Check(n, SKIP, "a read-only run makes no writes") for n in ("async", "cache_read")]
        else:
            runs += [lambda: async_path(probe, async_timeout_s), lambda: cache_read(probe)]
        runs += [lambda extra=extra: extra(probe, writes) for extra in more]
        for run in runs:
            try:
                into.append(await run())
            except _Stop as stop:
                into.append(stop.check)
    finally:
        probe.close()
