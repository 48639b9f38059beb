"""The pieces without a server: the mix's order, histograms that merge exactly, the spectrum, the edge warning."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

import pytest

from cli.core.errors import ConfigError
from cli.loadgen.flow import edge_warning
from cli.loadgen.mix import WeightedCycle, parse_mix
from cli.loadgen.recorder import Recorder, merge
from cli.loadgen.report import percentiles, spectrum
from cli.smoke.endpoint import from_url


def test_the_cycle_keeps_the_weights_and_spreads_each_kind_out():
    cycle = WeightedCycle({"heartbeat": 2, "write": 1, "read": 1})
    order = [cycle.next() for _ in range(400)]
    assert Counter(order) == {"heartbeat": 200, "write": 100, "read": 100}
    assert all(a != b or a == "heartbeat" for a, b in itertools.pairwise(order))


def test_a_mix_is_read_from_name_weight_pairs():
    assert parse_mix(" heartbeat=3 , READ=1") == {"heartbeat": 3, "read": 1}
    with pytest.raises(ConfigError, match="names 'write' twice"):
        parse_mix("write=1,write=2")
    with pytest.raises(ConfigError, match="weight of 'read' is not a whole number"):
        parse_mix("read=-1")


def _recorder(latencies_ms: list[float]) -> Recorder:
    recorder = Recorder(0.0, 10.0)
    for n, latency in enumerate(latencies_ms):
        intended = n * 0.01
        recorder.dispatched(intended, intended, intended)
        recorder.succeeded("GET /heartbeat", intended, intended, intended + latency / 1000)
    return recorder


def test_processes_merge_into_the_percentiles_of_every_request():
    values = [float(v) for v in range(1, 1001)]
    whole = merge([_recorder(values).to_json()])
    halves = merge([_recorder(values[::2]).to_json(), _recorder(values[1::2]).to_json()])
    assert percentiles(halves.latency) == percentiles(whole.latency)
    assert halves.totals["sent"] == whole.totals["sent"] == 1000
    assert percentiles(whole.latency)["p99"] == pytest.approx(990, rel=0.001)
    assert percentiles(whole.latency)["max"] == pytest.approx(1000, rel=0.001)


def test_the_spectrum_climbs_by_nines_and_ends_at_the_maximum():
    merged = merge([_recorder([1.0] * 990 + [50.0] * 9 + [400.0]).to_json()])
    points = spectrum(merged.latency)
    assert points[0][0] == 0
    assert points[-1] == (100.0, pytest.approx(400, rel=0.001))
    assert [p for p, _ in points] == sorted(p for p, _ in points)
    at_99_9 = next(v for p, v in points if p >= 99.9)
    assert at_99_9 == pytest.approx(50, rel=0.001)


def test_a_rate_above_the_edges_per_client_limit_is_named_before_the_run():
    target = replace(
        from_url("https://api.example.com", token=None, expect_redirect=False),
        edge_outputs={"edge_rate_limit": 600, "edge_rate_window_seconds": 60},
    )
    assert edge_warning(target, 5) is None
    warning = edge_warning(target, 50)
    assert "600 requests per 60 s" in warning
    assert "429" in warning
