"""One probe shared by every caller within a short interval: at most one in flight, its answer reused until it ages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedProbe(Generic[T]):
    """Runs `probe` for the first caller; callers meanwhile wait for that run, later ones reuse it for `ttl` s."""

    _result: T
    """The last run's answer; set before `_at`, so read only while `_at` is recent."""

    def __init__(self, probe: Callable[[], Awaitable[T]], ttl: float):
        self._probe = probe
        self.ttl = ttl
        self.runs = 0
        self._at = -float("inf")
        self._inflight: asyncio.Future | None = None

    async def get(self) -> T:
        if time.monotonic() - self._at < self.ttl:
            return self._result
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._run())
        # Shielded: a caller that disconnects does not cancel the probe the others are waiting for.
        return await asyncio.shield(self._inflight)

    async def _run(self) -> T:
        try:
            self.runs += 1
            result = await self._probe()
            self._result, self._at = result, time.monotonic()
            return result
        finally:
            self._inflight = None
