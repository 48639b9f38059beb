"""The capacity search: against a server with a known capacity, and its stepping on made-up outcomes."""

from __future__ import annotations

from datetime import UTC, datetime

from cli.loadgen.capacity import SearchOptions, find_capacity
from cli.loadgen.flow import search_capacity
from cli.loadgen.options import LoadGates, LoadOptions
from cli.loadgen.recorder import Recorder, merge
from cli.loadgen.report import summarise
from cli.loadgen.runner import StepResult
from cli.smoke.endpoint import from_url
from tests.cli.loadgen.servers import TOKEN, Queue, serve


def test_the_search_finds_a_servers_known_capacity():
    service_s = 0.005  # one request at a time: 200 requests per second, exactly
    capacity = 1 / service_s
    start = LoadOptions(rate=150, duration_s=1.0, warmup_s=0.2, gates=LoadGates(p95_ms=100))
    search = SearchOptions(factor=1.5, resolution=0.15, max_steps=8, tasks=2, tasks_source="test", target_rate=1000)
    with serve(Queue(service_s=service_s)) as server:
        target = from_url(f"http://127.0.0.1:{server.port}", token=TOKEN, expect_redirect=False)
        result = search_capacity(target, start, search)
    steps = [(s.options.rate, s.to_json()["generator"]) for s in result.steps]
    assert result.held is not None, steps
    assert result.broke is not None, steps
    # Above the capacity the queue grows all through a step: by the step's end a 10 % excess waits over 100 ms. A
    # loaded machine can only make the server slower, so its known capacity is an upper bound (the search's own
    # arithmetic is checked exactly on made-up outcomes below).
    assert 0 < result.capacity <= 1.1 * capacity
    assert result.broke.options.rate > result.capacity
    assert result.per_task == result.capacity / 2
    assert result.tasks_needed == -(-1000 // result.per_task)
    assert not result.passed  # under the target rate


def _outcome(options: LoadOptions, p95_ms: float, *, busy: bool = False):
    """A step's summary from made-up latencies: every request answered in `p95_ms`."""
    recorder = Recorder(0.0, options.duration_s)
    sent = int(options.rate * options.duration_s)
    for n in range(sent):
        intended = n / options.rate
        recorder.dispatched(intended, intended, intended + (0.5 if busy else 0.0))
        recorder.succeeded("GET /heartbeat", intended, intended, intended + p95_ms / 1000)
    recorder.last_send = options.duration_s
    step = StepResult(options, datetime.now(UTC), merge([recorder.to_json()]), 1)
    return summarise("http://example.test", "url", step)


def test_the_search_narrows_down_to_its_resolution():
    limit = 333.0

    def run(options):
        return _outcome(options, 10 if options.rate <= limit else 500)

    result = find_capacity(LoadOptions(rate=10, duration_s=1), SearchOptions(resolution=0.05, max_steps=30), run)
    assert result.capacity <= limit < result.broke.options.rate <= result.capacity * 1.05
    assert [s.options.rate for s in result.steps][:6] == [10, 20, 40, 80, 160, 320]


def test_the_search_steps_down_when_the_first_rate_breaks():
    result = find_capacity(
        LoadOptions(rate=100, duration_s=1),
        SearchOptions(resolution=0.1),
        lambda options: _outcome(options, 10 if options.rate <= 30 else 500),
    )
    assert [s.options.rate for s in result.steps][:3] == [100, 50, 25]
    assert 25 <= result.capacity <= 30


def test_the_search_stops_where_the_generator_falls_behind():
    result = find_capacity(
        LoadOptions(rate=100, duration_s=1),
        SearchOptions(),
        lambda options: _outcome(options, 10, busy=options.rate >= 400),
    )
    assert result.generator_limited
    assert result.capacity == 200
    assert result.broke is None
    assert "generator" in result.notes[0]
