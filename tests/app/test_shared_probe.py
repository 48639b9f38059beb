"""The shared probe behind the public heartbeat: one run for concurrent callers, reused until it ages, failures not
remembered."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api.shared_probe import SharedProbe


def test_the_shared_probe_runs_once_for_concurrent_callers_and_again_once_aged():
    async def go():
        release = asyncio.Event()

        async def probe():
            await release.wait()
            return "state"

        shared = SharedProbe(probe, ttl=3600)
        waiting = [asyncio.ensure_future(shared.get()) for _ in range(25)]
        await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(*waiting)
        again = await shared.get()
        first_runs = shared.runs
        shared.ttl = 0
        await shared.get()
        return results, again, first_runs, shared.runs

    results, again, first_runs, runs = asyncio.run(go())
    assert results == ["state"] * 25
    assert again == "state"
    assert first_runs == 1
    assert runs == 2


def test_a_failing_probe_is_not_remembered():
    async def go():
        calls = []

        async def probe():
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("first run fails")
            return "state"

        shared = SharedProbe(probe, ttl=3600)
        with pytest.raises(RuntimeError):
            await shared.get()
        return await shared.get(), len(calls)

    assert asyncio.run(go()) == ("state", 2)
