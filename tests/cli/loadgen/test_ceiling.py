"""The generator's own limit: asked for more than one process can send, it says that it fell behind."""

from __future__ import annotations

import pytest

from cli.loadgen.flow import run_load
from cli.loadgen.options import LoadGates, LoadOptions
from cli.smoke.endpoint import from_url
from tests.cli.loadgen.servers import nginx


def test_a_rate_past_the_generators_ceiling_is_reported_as_its_own_lateness(tmp_path):
    try:
        server = nginx(tmp_path)
        port = server.__enter__()
    except FileNotFoundError as missing:
        pytest.skip(str(missing))
    try:
        # One process cannot send 30,000 requests a second from Python, and nginx answers each at once: the
        # lateness is the generator's (its sends left well after the answers before them arrived).
        options = LoadOptions(
            rate=30_000,
            duration_s=1.0,
            warmup_s=0.2,
            processes=1,
            connections=64,
            weights={"heartbeat": 1},
            gates=LoadGates(p95_ms=None),
        )
        summary = run_load(from_url(f"http://127.0.0.1:{port}", token=None, expect_redirect=False), options)
    finally:
        server.__exit__(None, None, None)
    assert summary.generator_behind
    assert summary.generator_limited
    assert summary.achieved_rate < 0.9 * options.rate
    # What it could not send waited for a connection until its timeout: those are not nginx's errors either.
    assert set(summary.step.merged.errors) <= {"timeout"}
    assert "the generator fell behind its schedule" in summary.warnings[0]
    assert summary.to_json()["generator"]["at_ceiling"] is True
