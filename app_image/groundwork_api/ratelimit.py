"""Per-subject request limits: a fixed window counted in the cache (shared by every task), or in-process without one."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from redis.exceptions import RedisError

from . import logs
from .cache import Cache, CacheUnavailable

# One atomic step: count the request in its window and start the window's clock on the first one.
_COUNT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
"""
KEY_PREFIX = "limit:"
"""Prefix of the counters' keys."""
LOCAL_SUBJECTS = 10_000
"""Subjects the in-process fallback remembers (the oldest are forgotten first)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether the request may go on, and if not, after how many seconds the subject may try again."""

    allowed: bool
    retry_after: int
    shared: bool
    """Counted in the cache (every task sees it) rather than in this process only."""
    marked: bool = False
    """The write this request makes was marked in progress in the cache (Cache.begin_write)."""


class SubjectLimiter:
    """At most `limit` requests per `window` seconds per subject; 0 turns the limit off."""

    def __init__(self, cache: Cache, limit: int, window: int):
        self.cache = cache
        self.limit = limit
        self.window = window
        self._script = cache.client.register_script(_COUNT) if cache.client is not None else None
        self._local: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._last_warning = 0.0

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    async def check(self, subject: str, writing: str | None = None) -> Decision:
        """Counts one request of the subject and decides; a cache outage falls back to this process's count.

        With `writing` (a user_id), the same cache round trip also marks that user's write in progress when the
        request is allowed, even with the limit off."""
        if writing is not None and self.cache.client is not None and not self.cache.skipping:
            counter = (self._key(subject), self.window * 1000, self.limit) if self.enabled else None
            try:
                count, ttl_ms, marked = await self.cache.begin_write(writing, counter)
            except CacheUnavailable as exc:
                self._warn(exc)
            else:
                if counter is None:
                    return Decision(True, 0, shared=False, marked=marked)
                return self._decide(count, max(ttl_ms, 0) / 1000, shared=True, marked=marked)
        if not self.enabled:
            return Decision(True, 0, shared=False)
        if self._script is not None and not self.cache.skipping:
            try:
                count, ttl_ms = await asyncio.wait_for(
                    self._script(keys=[self._key(subject)], args=[self.window * 1000]), self.cache.settings.timeout
                )
                return self._decide(int(count), max(int(ttl_ms), 0) / 1000, shared=True)
            except (TimeoutError, RedisError, OSError) as exc:
                self._warn(exc)
        return self._count_locally(subject)

    def _key(self, subject: str) -> str:
        # A digest keeps keys short whatever the token's `sub` holds.
        window = int(time.time() // self.window)
        digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"{KEY_PREFIX}{self.window}:{window}:{digest}"

    def _decide(self, count: int, seconds_left: float, *, shared: bool, marked: bool = False) -> Decision:
        if count <= self.limit:
            return Decision(True, 0, shared, marked)
        return Decision(False, max(1, math.ceil(seconds_left)), shared)

    def _count_locally(self, subject: str) -> Decision:
        now = time.time()
        window = int(now // self.window)
        seen_window, count = self._local.get(subject, (window, 0))
        count = count + 1 if seen_window == window else 1
        self._local[subject] = (window, count)
        self._local.move_to_end(subject)
        while len(self._local) > LOCAL_SUBJECTS:
            self._local.popitem(last=False)
        return self._decide(count, (window + 1) * self.window - now, shared=False)

    def _warn(self, exc: BaseException) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last_warning >= 10:
            self._last_warning = now
            logs.emit("warning", "rate limit counted in this process only", reason=type(exc).__name__)
