"""Requests counted in-process reach the Prometheus metrics intact: counts, latency buckets, sums and db_up."""

from __future__ import annotations

import asyncio
import sys

import pytest
from prometheus_client import REGISTRY

from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api import metrics

LABELS = {"route": "/buffer-test", "method": "GET", "status": "200"}


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {**LABELS, **labels}) or 0.0


@pytest.fixture(autouse=True)
def _flushed():
    metrics.flush()
    yield
    metrics.flush()


def test_buffered_requests_appear_with_their_buckets_and_sum_after_a_flush():
    count = _sample("http_requests_total")
    low = _sample("http_request_duration_seconds_bucket", le="0.001")
    mid = _sample("http_request_duration_seconds_bucket", le="0.005")
    inf = _sample("http_request_duration_seconds_bucket", le="+Inf")
    total = _sample("http_request_duration_seconds_sum")

    async def answer():
        for seconds in (0.0005, 0.001, 0.004, 0.005, 7.0):  # bounds are inclusive; 7 s is past every finite bound
            metrics.observe_request("/buffer-test", "GET", 200, seconds)

    asyncio.run(answer())
    metrics.exposition()  # a scrape flushes first

    assert _sample("http_requests_total") == count + 5
    assert _sample("http_request_duration_seconds_bucket", le="0.001") == low + 2
    assert _sample("http_request_duration_seconds_bucket", le="0.005") == mid + 4
    assert _sample("http_request_duration_seconds_bucket", le="+Inf") == inf + 5
    assert _sample("http_request_duration_seconds_sum") == pytest.approx(total + 7.0105)


def test_inside_the_event_loop_counts_wait_for_the_timer_outside_they_are_written_at_once(monkeypatch):
    monkeypatch.setattr(metrics, "FLUSH_AFTER_S", 0)  # the timer fires on the loop's next turn
    count = _sample("http_requests_total")

    async def answer_and_look():
        metrics.observe_request("/buffer-test", "GET", 200, 0.002)
        seen_at_once = _sample("http_requests_total")
        for _ in range(3):
            await asyncio.sleep(0)
        return seen_at_once, _sample("http_requests_total")

    at_once, after_timer = asyncio.run(answer_and_look())
    assert at_once == count
    assert after_timer == count + 1

    metrics.observe_request("/buffer-test", "GET", 200, 0.002)
    assert _sample("http_requests_total") == count + 2


def test_database_up_keeps_the_last_value_set():
    metrics.set_database_up(True)
    metrics.set_database_up(False)
    assert REGISTRY.get_sample_value("db_up") == 0.0
    metrics.set_database_up(True)
    assert REGISTRY.get_sample_value("db_up") == 1.0
