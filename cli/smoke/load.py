"""The request engine: a fixed number of requests over keep-alive connections at a fixed concurrency."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cli.smoke.classify import DEADLINE, classify_exception
from cli.smoke.http import Client, Endpoint
from cli.smoke.stats import Sample

CUT_OFF = "no answer before the run's deadline"
Verdict = tuple[str | None, str, float | None]
"""How an answer is judged: (failure class or None, detail, database round trip in ms or None)."""


def _nothing() -> None:
    return None


@dataclass(slots=True)
class Call:
    """One request to make (its bytes) and how to judge its answer."""

    endpoint: str
    payload: bytes
    judge: Callable[[int, bytes], Verdict]
    lost: Callable[[], None] = _nothing
    """Called when no answer arrived, so the caller knows the request's effect is uncertain."""


class Plan(Protocol):
    """What to request: the n-th call of the run, made by one worker (one keep-alive connection)."""

    def call(self, worker: int, n: int) -> Call: ...


async def run_requests(
    target: Endpoint,
    plan: Plan,
    *,
    total: int,
    concurrency: int,
    timeout_s: float,
    into: list[Sample] | None = None,
) -> tuple[list[Sample], float]:
    """Make `total` requests with `concurrency` workers; return the samples and the wall time in seconds.

    Latency runs from just before the request's bytes are written (or its connection is opened) to the kernel's
    receive time of the answer's last bytes (see `http.Client.send`), so the client's own work on other requests
    is not counted. Samples go to `into` as they come, so a run cancelled by its deadline keeps what it measured;
    the requests in flight at that moment are recorded as `deadline` failures.
    """
    counter = itertools.count()
    samples: list[Sample] = [] if into is None else into
    clock = time.perf_counter
    began = clock()

    async def worker(index: int) -> None:
        client = Client(target)
        try:
            for n in counter:
                if n >= total:
                    return
                call = plan.call(index, n)
                before = clock()
                try:
                    response, started, latency = await client.send(call.payload, timeout_s)
                except asyncio.CancelledError:
                    call.lost()
                    cut = Sample(call.endpoint, before - began, (clock() - before) * 1000, DEADLINE, None, CUT_OFF)
                    samples.append(cut)
                    raise
                except Exception as exc:
                    now = clock()
                    failure, detail = classify_exception(exc)
                    call.lost()
                    samples.append(Sample(call.endpoint, before - began, (now - before) * 1000, failure, None, detail))
                    continue
                failure, detail, database_ms = call.judge(response.status, response.body)
                if response.status == 429 and "retry-after" in response.headers:
                    detail = f"{detail}; Retry-After {response.headers['retry-after'][:16]}".lstrip("; ")
                samples.append(
                    Sample(call.endpoint, started - began, latency, failure, response.status, detail, database_ms)
                )
        finally:
            client.close()

    await asyncio.gather(*(worker(i) for i in range(min(concurrency, total))))
    return samples, clock() - began
