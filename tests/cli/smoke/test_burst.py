"""The burst check against a real per-client limiter on loopback: where 429s begin, and what each one carries."""

from __future__ import annotations

import json

import pytest

from cli.core.errors import ConfigError
from cli.smoke.burst import EdgeLimit, limit_from_outputs, parse_rate
from cli.smoke.check import SmokeOptions, run_smoke
from cli.smoke.endpoint import from_url
from cli.smoke.gates import Gates
from stacks import outputs as names
from tests.cli.smoke.backend_server import BackendServer, TokenBucket
from tests.cli.smoke.faulty import FaultyServer, serve
from tests.cli.smoke.untimed import UNTIMED

TOKEN = "a-test-token-not-a-real-one"
LENIENT = Gates(p95_ms=2000)


def _run(server, limit, **options):
    options.setdefault("gates", LENIENT)
    options.setdefault("requests", 10)
    options.setdefault("concurrency", 2)
    target = from_url(server.base_url, token=TOKEN, expect_redirect=False)
    return run_smoke(target, SmokeOptions(burst=True, burst_limit=limit, **{"gates": UNTIMED, **options}))


def _burst(report):
    return next(c for c in report.checks if c.name == "burst")


def test_429s_begin_at_the_configured_limit_counting_the_runs_earlier_requests():
    with serve(BackendServer(limiter=TokenBucket(limit=40, window_s=60, allowance=40))) as server:
        report = _run(server, EdgeLimit(40, 60))
    check = _burst(report)
    assert check.status == "pass", check.summary
    assert report.passed, report.to_json()["gates"]
    data = check.data
    # The load, pre-flight and backend checks spent part of the allowance; the burst got the rest.
    assert data["prior_requests"] > 10
    assert 40 <= data["measured_allowance"] <= 41
    assert data["expected_admitted"]["min"] <= data["admitted_before_429"] <= data["expected_admitted"]["max"]
    assert data["refused_after_first"] == data["sent"] - data["admitted_before_429"] - 1
    assert data["configured"] == {
        "limit": 40,
        "window_s": 60,
        "allowance": 40,
        "rate_per_s": 0.6667,
        "source": "--burst-rate",
    }
    assert "429s began after" in check.summary
    assert report.overall.failures == {}  # the load itself stayed under the limit


def test_an_nginx_style_limit_with_a_small_allowance_and_a_fast_refill_passes():
    bucket = TokenBucket(limit=600, window_s=60, allowance=21)
    with serve(BackendServer(limiter=bucket)) as server:
        report = _run(server, EdgeLimit(600, 60, allowance=21), requests=2, backend=False)
    check = _burst(report)
    assert check.status == "pass", check.summary
    assert check.data["measured_allowance"] >= 21


@pytest.mark.parametrize(
    ("actual", "text"),
    [(TokenBucket(limit=80, window_s=60, allowance=80), "more than the"), (None, "more than the")],
)
def test_a_limit_looser_than_configured_or_none_fails_and_the_burst_stops(actual, text):
    with serve(BackendServer(limiter=actual)) as server:
        report = _run(server, EdgeLimit(40, 60), requests=2, backend=False)
    check = _burst(report)
    assert check.status == "fail"
    assert text in check.summary, check.summary
    assert check.data["sent"] < 80  # it gave up past the most it could expect
    assert [g.name for g in report.broken] == ["checks"]


def test_a_limit_stricter_than_configured_fails_as_too_early():
    with serve(BackendServer(limiter=TokenBucket(limit=20, window_s=60, allowance=20))) as server:
        report = _run(server, EdgeLimit(40, 60), requests=2, backend=False)
    check = _burst(report)
    assert check.status == "fail"
    assert "too early: 429s began after 17 requests (20 with the run's 3 earlier ones)" in check.summary


@pytest.mark.parametrize(
    ("field", "text"),
    [("retry_after", "without a valid Retry-After"), ("json_body", 'not {"error": {"code": "rate_limited"')],
)
def test_a_429_without_retry_after_or_the_json_error_fails(field, text):
    bucket = TokenBucket(limit=10, window_s=60, allowance=10, **{field: False})
    with serve(BackendServer(limiter=bucket)) as server:
        report = _run(server, EdgeLimit(10, 60), requests=2, backend=False)
    check = _burst(report)
    assert check.status == "fail"
    assert text in check.summary


def test_a_failure_under_the_limit_fails_the_burst():
    with serve(FaultyServer(mode="status500")) as server:
        report = _run(server, EdgeLimit(40, 60), requests=2, backend=False, burst_path="/heartbeat")
    check = _burst(report)
    assert check.status == "fail"
    assert "request 1 of the burst, under the limit, failed: answered 500" in check.summary
    assert check.data["sent"] <= 2  # stopped at once (one per connection in flight)


def test_the_rate_is_parsed_and_read_from_the_stack_outputs():
    assert parse_rate("100/60") == EdgeLimit(100, 60.0)
    assert parse_rate(" 1000 / 300s ", allowance=5).start_allowance == 5
    for bad in ("100", "1e3/60", "100/0", "0/60", "-1/60", "100/60/2"):
        with pytest.raises(ConfigError):
            parse_rate(bad)
    values = {names.EDGE_RATE_LIMIT: 1000, names.EDGE_RATE_WINDOW_SECONDS: 300}
    limit = limit_from_outputs(values, "stack dev")
    assert (limit.limit, limit.window_s, limit.start_allowance, limit.source) == (1000, 300.0, 1000, "stack dev")
    nginx = limit_from_outputs({**values, names.EDGE_RATE_ALLOWANCE: 21}, "stack local")
    assert nginx.start_allowance == 21
    assert limit_from_outputs({}, "stack dev") is None
    with pytest.raises(ConfigError, match="edge_rate_limit"):
        limit_from_outputs({**values, names.EDGE_RATE_LIMIT: "many"}, "stack dev")


def test_the_command_runs_the_burst_and_refuses_what_it_cannot_check(infra):
    bucket = TokenBucket(limit=40, window_s=60, allowance=40)
    with serve(BackendServer(limiter=bucket)) as server:
        url = ["smoke", "--url", server.base_url, "--token", TOKEN, "-n", "6", "--p95-ms", "2000"]
        result = infra(*url, "--burst", "--burst-rate", "40/60", "--json", code=0)
        burst = json.loads(result.stdout)["smoke"]["checks"][-1]
        assert burst["name"] == "burst"
        assert burst["configured"]["source"] == "--burst-rate"
        assert result.stderr == ""
        requests = server.requests
        for args, text in (
            (["--burst"], "does not export one"),
            (["--burst", "--burst-rate", "lots"], "is not LIMIT/SECONDS"),
            (["--burst-rate", "40/60"], "are for --burst"),
            (["--burst-pace", "5"], "are for --burst"),
            (["--burst", "--burst-allowance", "5"], "goes with --burst-rate"),
            (["--burst", "--burst-rate", "40/60", "--burst-path", "livez"], "--burst-path"),
        ):
            refused = infra(*url, *args, code=2)
            assert text in refused.stderr, args
        assert server.requests == requests  # refused before anything was sent
    with serve(BackendServer(limiter=TokenBucket(limit=40, window_s=60, allowance=40))) as fresh:
        url = ["smoke", "--url", fresh.base_url, "--token", TOKEN, "-n", "6", "--p95-ms", "2000"]
        told = infra(*url, "--burst", "--burst-rate", "40/60", code=0)
        assert "429s began after" in told.stderr


def test_a_limit_too_large_for_a_smoke_check_is_refused():
    with pytest.raises(ConfigError, match="over 10000 requests"):
        parse_rate("20000/300")
    with pytest.raises(ConfigError, match="over 10000 requests"):
        parse_rate("100/60", allowance=50_000)
    assert parse_rate("100000/3600", allowance=21).start_allowance == 21


def test_a_deadline_that_runs_out_during_the_burst_cuts_it_off():
    with serve(BackendServer(limiter=None)) as server:
        report = _run(server, EdgeLimit(10_000, 60), requests=2, backend=False, deadline_s=0.3)
    assert report.ran_out == "burst"
    check = _burst(report)
    assert check.status == "fail"
    assert check.summary.startswith("cut off: the run's deadline of 0.3 s ran out")
    assert [g.name for g in report.broken] == ["checks", "deadline"]


def test_a_stack_target_carries_its_edge_limit_and_a_malformed_one_stops_only_a_burst():
    from types import SimpleNamespace

    from cli.core.outputs import StackOutput
    from cli.smoke.check import validate
    from cli.smoke.endpoint import from_stack

    def target(limit):
        outputs = {
            names.SERVICE_URL: StackOutput("https://api.dev.example.com", False),
            names.EDGE_RATE_LIMIT: StackOutput(limit, False),
            names.EDGE_RATE_WINDOW_SECONDS: StackOutput(300, False),
        }
        return from_stack(SimpleNamespace(stack="dev"), outputs, token=TOKEN)

    good = target(1000)
    assert good.edge_outputs == {names.EDGE_RATE_LIMIT: 1000, names.EDGE_RATE_WINDOW_SECONDS: 300}
    validate(good, SmokeOptions(burst=True))
    bad = target("lots")
    validate(bad, SmokeOptions())  # a run that does not burst does not read them
    with pytest.raises(ConfigError, match="stack dev's outputs edge_rate_limit/edge_rate_window_seconds"):
        validate(bad, SmokeOptions(burst=True))


def test_a_paced_burst_spaces_its_requests_and_still_finds_the_limit():
    with serve(BackendServer(limiter=TokenBucket(limit=20, window_s=60, allowance=20))) as server:
        report = _run(server, EdgeLimit(20, 60), requests=2, backend=False, burst_pace_per_s=1000)
    check = _burst(report)
    assert check.status == "pass", check.summary
    # 17 admitted, then the first 429: request 18 cannot start before 17 intervals of 1 ms have passed
    assert check.data["admitted_before_429"] == 17
    assert check.data["first_429_after_ms"] >= 17
