"""The open model against real servers on loopback: a steady one, one that stalls on a schedule, one that fails."""

from __future__ import annotations

import pytest

from cli.loadgen.flow import run_load
from cli.loadgen.options import LoadGates, LoadOptions
from cli.loadgen.report import percentiles
from cli.smoke.endpoint import from_url
from tests.cli.loadgen.servers import TOKEN, Behaviour, Fails, Stalls, serve


def _target(port: int):
    return from_url(f"http://127.0.0.1:{port}", token=TOKEN, expect_redirect=False)


def test_a_steady_server_gets_the_rate_asked_for():
    with serve(Behaviour()) as server:
        summary = run_load(_target(server.port), LoadOptions(rate=200, duration_s=2, warmup_s=0.5))
    assert summary.totals["sent"] == 400
    assert abs(summary.achieved_rate - 200) <= 0.02 * 200, summary.to_json()["rate"]
    assert summary.step.merged.errors == {}
    assert summary.passed
    endpoints = summary.endpoints()
    # The mix's weights (2:1:1) hold exactly: the reads found what the writes stored.
    assert endpoints["GET /heartbeat"]["requests"] == 200
    assert endpoints["POST /map"]["requests"] == 100
    assert endpoints["GET /map/{user_id}"]["requests"] == 100


def stalled_latency_ms(fraction: float, stall_s: float, stalled_share: float) -> float:
    """The latency at `fraction` of a uniform arrival stream when `stalled_share` of it arrives during stalls of
    `stall_s` (each waits for the stall's end, uniformly from 0 to stall_s) and the rest is answered at once."""
    above = fraction - (1 - stalled_share)
    return max(0.0, stall_s * above / stalled_share) * 1000


def test_a_stalling_server_shows_its_stalls_in_the_high_percentiles():
    period_s, stall_s = 0.5, 0.15
    # Two connections: during a stall the later sends wait for a free one, as with a closed-loop client, and only a
    # latency counted from the intended send time shows how long they waited.
    options = LoadOptions(rate=200, duration_s=2.0, warmup_s=0.5, connections=2, gates=LoadGates(p95_ms=None))
    with serve(Stalls(period_s=period_s, stall_s=stall_s)) as server:
        summary = run_load(_target(server.port), options)
    corrected = percentiles(summary.step.merged.latency)
    service = percentiles(summary.step.merged.service)
    share = stall_s / period_s  # the window is a whole number of periods
    for name, fraction in (("p90", 0.90), ("p95", 0.95), ("p99", 0.99)):
        expected = stalled_latency_ms(fraction, stall_s, share)
        assert expected - 10 <= corrected[name] <= expected + 25, (name, expected, corrected)
    assert corrected["max"] >= 0.9 * stall_s * 1000
    assert corrected["p50"] < 0.2 * stall_s * 1000
    # What a tool timing from the actual send would have reported for the same requests: the stall hidden at p90.
    assert service["p90"] < corrected["p90"] / 3
    assert summary.totals["queued"] > 0


def test_a_failing_server_has_its_errors_counted_by_kind():
    behaviour = Fails()
    options = LoadOptions(rate=100, duration_s=1.0, warmup_s=0, connections=8)
    with serve(behaviour) as server:
        summary = run_load(_target(server.port), options)
    errors = summary.step.merged.errors
    assert errors == {kind: behaviour.served[kind] for kind in ("http_500", "wrong_body", "reset")}
    assert summary.totals["ok"] == behaviour.served["ok"]
    assert summary.requests == 100
    assert not summary.passed
    gate = next(g for g in summary.gate_results if g.name == "errors")
    assert not gate.passed
    assert "30 of 100" in gate.actual
    assert summary.step.merged.examples["http_500"]


@pytest.mark.parametrize(("allowed", "passes"), [(0.25, False), (0.35, True)])
def test_the_error_rate_gate_takes_a_budget(allowed, passes):
    options = LoadOptions(
        rate=100, duration_s=1.0, warmup_s=0, connections=8, gates=LoadGates(p95_ms=None, max_error_rate=allowed)
    )
    with serve(Fails()) as server:
        summary = run_load(_target(server.port), options)
    assert summary.error_rate == pytest.approx(0.3)
    assert summary.passed is passes
