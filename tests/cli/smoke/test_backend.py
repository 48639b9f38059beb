"""The backend checks (cache on /heartbeat, asynchronous path, cache reads) against a real server on loopback."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from cli.smoke.check import SmokeOptions, run_smoke
from cli.smoke.endpoint import from_url
from cli.smoke.gates import Gates
from cli.smoke.html import html_report
from cli.smoke.junit import junit_xml
from tests.cli.smoke.backend_server import SETTLING_READS, BackendServer
from tests.cli.smoke.faulty import serve
from tests.cli.smoke.untimed import UNTIMED

TOKEN = "a-test-token-not-a-real-one"
LENIENT = Gates(p95_ms=2000)


@pytest.fixture
def backend():
    with serve(BackendServer()) as server:
        yield server


def _run(server, **options):
    options.setdefault("gates", LENIENT)
    options.setdefault("requests", 10)
    options.setdefault("concurrency", 2)
    target = from_url(server.base_url, token=TOKEN, expect_redirect=False)
    return run_smoke(target, SmokeOptions(**{"gates": UNTIMED, **options}))


def _checks(report):
    return {c.name: c for c in report.checks}


def test_a_healthy_backend_passes_every_check_and_reports_the_latencies(backend):
    report = _run(backend)
    checks = _checks(report)
    assert report.passed, (report.to_json()["gates"], [c.to_json() for c in report.checks])
    assert [(c.name, c.status) for c in report.checks] == [
        ("cache", "pass"),
        ("async", "pass"),
        ("cache_read", "pass"),
        ("files", "skip"),
    ]
    assert "no file routes" in checks["files"].summary
    assert checks["cache"].data["cache_latency_ms"] == 0.2
    run_id = report.run_id
    assert backend.summaries[f"smoke-{run_id}-async"]["last_version"] == 1
    assert checks["async"].data["latency_ms"] > 0
    assert checks["async"].data["polls"] >= 1
    reads = checks["cache_read"].data
    assert (reads["first"]["x_cache"], reads["second"]["x_cache"]) == ("miss", "hit")
    assert reads["first"]["latency_ms"] > 0
    assert reads["second"]["latency_ms"] > 0
    doc = report.to_json()
    assert [c["name"] for c in doc["checks"]] == ["cache", "async", "cache_read", "files"]
    assert next(g for g in doc["gates"] if g["name"] == "checks")["passed"] is True
    suite = ET.fromstring(junit_xml(report)).find("testsuite")  # noqa: S314 (our own document)
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert float(properties["async_latency_ms"]) > 0
    assert float(properties["cache_second_read_ms"]) > 0
    page = html_report(report)
    assert "Backend checks" in page
    assert "read 2 hit" in page


def test_a_service_without_cache_or_worker_is_skipped_not_failed():
    with serve(BackendServer(has_cache=False)) as server:
        report = _run(server)
    assert report.passed
    statuses = {c.name: (c.status, c.summary) for c in report.checks}
    assert statuses["cache"][0] == "skip"
    assert "reports no cache" in statuses["cache"][1]
    assert statuses["async"] == ("skip", statuses["cache"][1])
    suite = ET.fromstring(junit_xml(report)).find("testsuite")  # noqa: S314
    assert suite.get("skipped") == "4"  # the cache checks and the files check


def test_a_stack_that_runs_no_cache_is_skipped_without_waiting_for_a_worker():
    with serve(BackendServer(cache_off=True, worker_running=False)) as server:
        report = _run(server)
    assert report.passed
    statuses = {c.name: (c.status, c.summary) for c in report.checks}
    assert statuses["cache"] == ("skip", "/heartbeat reports the stack runs no cache (state off)")
    assert statuses["async"][0] == "skip"
    assert statuses["cache_read"][0] == "skip"


def test_a_missing_read_route_is_skipped_with_the_reason():
    with serve(BackendServer(read_routes=False)) as server:
        report = _run(server)
    assert report.passed
    checks = _checks(report)
    assert checks["cache"].status == "pass"
    assert checks["async"].status == "skip"
    assert "summary route (404)" in checks["async"].summary
    assert checks["cache_read"].status == "skip"
    assert "GET /map/{user_id} route (404)" in checks["cache_read"].summary
    # found out before writing anything: only the load's records are there
    assert not [user for user in server.records if user.endswith(("-async", "-cache"))]


def test_a_degraded_service_is_reported_as_degraded_and_its_heartbeats_still_pass():
    with serve(BackendServer(cache_up=False)) as server:
        report = _run(server)
    checks = _checks(report)
    assert report.overall.failures == {}
    assert checks["cache"].status == "warn"
    assert "degraded" in checks["cache"].summary
    assert checks["async"].status == "pass"
    assert checks["cache_read"].status == "warn"
    assert "was served from the cache" in checks["cache_read"].summary
    assert "degraded" in checks["cache_read"].summary
    assert report.passed


def test_a_worker_that_never_applies_the_write_fails_at_its_deadline():
    with serve(BackendServer(worker_running=False)) as server:
        report = _run(server, async_timeout_s=0.2)
    check = _checks(report)["async"]
    assert check.status == "fail"
    assert "did not apply write version 1 within 0.2 s" in check.summary
    assert "404: not applied yet" in check.summary
    assert not report.passed
    assert [g.name for g in report.broken] == ["checks"]


@pytest.mark.parametrize(
    ("mode", "status", "text"),
    [
        ("never_hits", "fail", "no read within 1 s of the first was served from the cache"),
        ("no_header", "fail", "carry no X-Cache header"),
        ("off", "skip", "without a cache (X-Cache: off)"),
        ("stale", "fail", "read version 1 after writing version 2: a stale read"),
    ],
)
def test_cache_reads_that_are_not_served_from_the_cache(mode, status, text):
    with serve(BackendServer(cache_mode=mode)) as server:
        report = _run(server)
    check = _checks(report)["cache_read"]
    assert (check.status, text in check.summary) == (status, True), check.summary
    assert report.passed is (status == "skip")


def test_a_cache_refreshed_after_the_write_answered_passes_once_a_read_is_served_from_it():
    # The API refreshes the cache without the write waiting: the first reads after it come from the database.
    with serve(BackendServer(cache_mode="settles_later")) as server:
        report = _run(server)
    check = _checks(report)["cache_read"]
    assert check.status == "pass", check.summary
    assert check.data["second"] == {**check.data["second"], "x_cache": "hit", "reads": SETTLING_READS + 1}
    assert f"read {SETTLING_READS + 1} hit" in check.summary


def test_a_read_only_run_skips_the_checks_that_write(backend):
    target = from_url(backend.base_url, token=None, expect_redirect=False)
    report = run_smoke(target, SmokeOptions(requests=4, writes=False, gates=LENIENT))
    checks = _checks(report)
    assert checks["async"].status == checks["cache_read"].status == "skip"
    assert "read-only" in checks["async"].summary
    assert backend.records == {}


def test_no_backend_runs_none_of_them(backend):
    report = _run(backend, backend=False)
    assert report.checks == []
    assert "checks" not in [g.name for g in report.gate_results]


def test_the_command_shows_the_checks(infra, backend):
    result = infra(
        "smoke", "--url", backend.base_url, "--token", TOKEN, "-n", "6", "--p95-ms", "2000", "--json", code=0
    )
    doc = json.loads(result.stdout)
    assert [c["status"] for c in doc["smoke"]["checks"]] == ["pass", "pass", "pass", "skip"]
    assert result.stderr == ""
    told = infra("smoke", "--url", backend.base_url, "--token", TOKEN, "-n", "6", "--p95-ms", "2000", code=0)
    assert "backend checks" in told.stderr
    assert "applied by the worker in" in told.stderr
    assert TOKEN not in result.stdout + told.stdout + told.stderr


def test_a_deadline_that_runs_out_during_the_checks_names_the_phase_and_cuts_them_off():
    with serve(BackendServer(worker_running=False)) as server:
        report = _run(server, async_timeout_s=30, deadline_s=0.5)
    assert report.ran_out == "checks"
    checks = _checks(report)
    assert checks["cache"].status == "pass"
    for name in ("async", "cache_read"):
        assert checks[name].status == "fail"
        assert checks[name].summary.startswith("cut off: the run's deadline of 0.5 s ran out")
    assert [g.name for g in report.broken] == ["checks", "deadline"]


def test_a_server_that_quotes_the_token_back_never_gets_it_into_the_report():
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJpbmZyYS1zbW9rZSJ9.c2lnbmF0dXJlLW9mLXRoZS10ZXN0LXRva2Vu"
    with serve(BackendServer(echo_token=True)) as server:
        target = from_url(server.base_url, token=token, expect_redirect=False)
        report = run_smoke(target, SmokeOptions(requests=4, gates=LENIENT))
    check = _checks(report)["async"]
    assert check.status == "fail"
    assert "the summary answered 500" in check.summary
    assert "[redacted]" in check.summary
    document = json.dumps(report.to_json()) + junit_xml(report) + html_report(report)
    for part in token.split("."):
        assert part not in document
