"""The open model against real servers on loopback: a steady one, one that stalls on a schedule, one that fails."""

from __future__ import annotations

import pytest

from cli.loadgen.flow import run_load
from cli.loadgen.options import LoadGates, LoadOptions
from cli.loadgen.recorder import Recorder
from cli.loadgen.report import percentiles
from cli.smoke.endpoint import from_url
from tests.cli.loadgen.servers import TOKEN, Behaviour, Fails, Stalls, serve


def _target(port: int):
    return from_url(f"http://127.0.0.1:{port}", token=TOKEN, expect_redirect=False)


def test_a_steady_server_gets_the_rate_asked_for_or_the_run_says_it_fell_behind():
    options = LoadOptions(rate=200, duration_s=2, warmup_s=0.5, gates=LoadGates(p95_ms=None))
    with serve(Behaviour()) as server:
        summary = run_load(_target(server.port), options)
    assert summary.totals["sent"] == 400
    assert summary.achieved_rate <= 1.02 * 200, "never faster than the schedule"
    # On a busy machine the generator may lag; it must then say so rather than report a short rate as the service's.
    assert summary.achieved_rate >= 0.98 * 200 or summary.generator_behind, summary.to_json()["rate"]
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


def test_latency_counts_from_the_intended_send_so_a_stall_shows_in_the_high_percentiles():
    """The correction itself, on made-up times: a stall of 150 ms every 500 ms at 200 sends a second."""
    period_s, stall_s, rate = 0.5, 0.15, 200
    recorder = Recorder(0.0, 2.0)
    for n in range(int(rate * 2.0)):
        intended = n / rate
        into_period = intended % period_s
        # A send that falls in a stall waits for its end; the rest are answered in a millisecond.
        arrived = intended + (stall_s - into_period if into_period < stall_s else 0.0) + 0.001
        sent_at = max(intended, arrived - 0.001)  # the generator's connection was busy until the stall ended
        recorder.dispatched(intended, intended, sent_at)
        recorder.succeeded("GET /heartbeat", intended, sent_at, arrived)
    corrected, service = percentiles(recorder.latency), percentiles(recorder.service)
    share = stall_s / period_s
    for name, fraction in (("p90", 0.90), ("p95", 0.95), ("p99", 0.99)):
        expected = stalled_latency_ms(fraction, stall_s, share)
        assert expected - 5 <= corrected[name] <= expected + 5, (name, expected, corrected)
    assert service["p99"] <= 2, "timed from the actual send, the same requests hide the stall"


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
    # Lower bounds only: a loaded machine adds latency, it cannot take the stalls away (the exact figures are checked
    # on made-up times above).
    for name, fraction in (("p90", 0.90), ("p95", 0.95), ("p99", 0.99)):
        expected = stalled_latency_ms(fraction, stall_s, share)
        assert corrected[name] >= expected - 10, (name, expected, corrected)
        assert corrected[name] >= service[name], (name, corrected, service)
    assert corrected["max"] >= 0.9 * stall_s * 1000
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
