"""The request engine: a fixed number of requests over keep-alive connections at a fixed concurrency."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cli.smoke.classify import classify_exception
from cli.smoke.stats import Sample

if TYPE_CHECKING:
    import aiohttp

Verdict = tuple[str | None, str, float | None]
"""How an answer is judged: (failure class or None, detail, database round trip in ms or None)."""


@dataclass(frozen=True)
class Call:
    """One request to make and how to judge its answer."""

    endpoint: str
    method: str
    url: str
    body: bytes | None
    headers: dict[str, str]
    judge: Callable[[int, bytes], Verdict]
    lost: Callable[[], None] = lambda: None
    """Called when no answer arrived, so the caller knows the request's effect is uncertain."""


class Plan(Protocol):
    """What to request: the n-th call of the run, made by one worker (one keep-alive connection)."""

    def call(self, worker: int, n: int) -> Call: ...


async def run_requests(
    session: aiohttp.ClientSession,
    plan: Plan,
    *,
    total: int,
    concurrency: int,
    timeout_s: float,
    request_options: dict[str, Any] | None = None,
) -> tuple[list[Sample], float]:
    """Make `total` requests with `concurrency` workers; return the samples and the wall time in seconds."""
    import aiohttp

    options = request_options or {}

    timeout = aiohttp.ClientTimeout(total=timeout_s)
    counter = itertools.count()
    samples: list[Sample] = []
    clock = time.perf_counter
    began = clock()

    async def worker(index: int) -> None:
        for n in counter:
            if n >= total:
                return
            call = plan.call(index, n)
            start = clock()
            try:
                async with session.request(
                    call.method,
                    call.url,
                    data=call.body,
                    headers=call.headers,
                    allow_redirects=False,
                    timeout=timeout,
                    **options,
                ) as response:
                    body = await response.read()
                    status = response.status
            except Exception as exc:
                elapsed = (clock() - start) * 1000
                failure, detail = classify_exception(exc)
                call.lost()
                samples.append(Sample(call.endpoint, start - began, elapsed, failure, None, detail))
                continue
            elapsed = (clock() - start) * 1000
            failure, detail, database_ms = call.judge(status, body)
            samples.append(Sample(call.endpoint, start - began, elapsed, failure, status, detail, database_ms))

    await asyncio.gather(*(worker(i) for i in range(min(concurrency, total))))
    return samples, clock() - began
