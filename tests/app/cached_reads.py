"""Reading a record until the cache serves it: a write's refresh of the cache lands just after its answer."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx


def read_until_cached(read: Callable[[], httpx.Response], timeout_s: float = 20) -> httpx.Response:
    """The first answer of `read` served from the cache (`X-Cache: hit`); fails after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = read()
        if answer.headers.get("x-cache") == "hit":
            return answer
        assert time.monotonic() < deadline, f"no read was served from the cache within {timeout_s} s: {answer.text}"
        time.sleep(0.01)
