"""Each kind of failure a faulty server produces is classified, and each gate trips with exit code 1."""

from __future__ import annotations

import json

import pytest

from cli.smoke.check import SmokeOptions, run_smoke
from cli.smoke.endpoint import from_url
from cli.smoke.gates import Gates
from cli.smoke.report import breach
from tests.cli.smoke.faulty import RawServer, serve

TOKEN = "a-test-token-not-a-real-one"


LENIENT = Gates(p95_ms=2000)
"""For tests about failures rather than speed: the servers share the test's process."""


def _run(server, requests=20, concurrency=5, **options):
    options.setdefault("gates", LENIENT)
    target = from_url(server.base_url, token=TOKEN, expect_redirect=False)
    return run_smoke(target, SmokeOptions(requests=requests, concurrency=concurrency, **options))


def _gate(report, name):
    return next(g for g in report.gate_results if g.name == name)


def test_a_healthy_server_passes_every_gate(faulty):
    report = _run(faulty)
    assert report.passed, report.to_json()["gates"]
    assert report.overall.requests == 20
    assert report.overall.failures == {}
    assert report.endpoints()["POST /map"].succeeded == 10
    assert sum(faulty.versions.values()) == 10
    # livez, the 20 requests, the backend checks' heartbeat (no cache reported: those are skipped), GET /openapi.json
    assert faulty.requests == 23  # + GET /openapi.json: the service lists no file routes
    assert [(c.name, c.status) for c in report.checks] == [
        ("cache", "skip"),
        ("async", "skip"),
        ("cache_read", "skip"),
        ("files", "skip"),
    ]


def test_500s_are_classified_by_status_and_break_the_failures_gate(faulty):
    faulty.mode = "status500"
    report = _run(faulty)
    assert report.overall.failures == {"http_500": 20}
    assert not _gate(report, "failures").passed
    assert _gate(report, "preflight").passed
    assert _gate(report, "p95").passed
    assert "boom" in report.failure_examples()["http_500"][0]


def test_answers_slower_than_the_timeout_are_timeouts(faulty):
    faulty.mode, faulty.delay_s = "slow", 0.3
    report = _run(faulty, requests=5, concurrency=5, timeout_s=0.1)
    assert report.overall.failures == {"timeout": 5}
    # Each was cut by the client's timeout (0.1 s), not by the server's late answer: the failure class says so.
    assert all(s.latency_ms >= 90 for s in report.samples)
    assert not _gate(report, "failures").passed


def test_slow_answers_within_the_timeout_break_the_p95_gate_only(faulty):
    faulty.mode, faulty.delay_s = "slow", 0.25
    report = _run(faulty, requests=10, concurrency=10, timeout_s=3, gates=Gates())
    assert report.overall.failures == {}
    assert _gate(report, "failures").passed
    p95 = _gate(report, "p95")
    assert not p95.passed
    assert report.overall.percentiles_ms[95] >= 250
    assert [g.name for g in report.broken] == ["p95"]


def test_a_p95_limit_above_the_slowness_passes(faulty):
    faulty.mode, faulty.delay_s = "slow", 0.25
    report = _run(faulty, requests=10, concurrency=10, timeout_s=3, gates=Gates(p95_ms=2000))
    assert report.passed


def test_connection_resets_are_resets(faulty):
    faulty.mode = "reset"
    report = _run(faulty)
    assert report.overall.failures == {"reset": 20}
    assert _gate(report, "preflight").passed


def test_a_heartbeat_with_the_wrong_body_is_a_wrong_body(faulty):
    faulty.mode = "wrong_body"
    report = _run(faulty)
    heartbeat = report.endpoints()["GET /heartbeat"]
    assert heartbeat.failures == {"wrong_body": 10}
    assert "hello from something else" in report.failure_examples()["wrong_body"][0]
    assert report.endpoints()["POST /map"].failures == {}


def test_a_write_whose_version_does_not_climb_is_not_confirmed(faulty):
    faulty.mode = "stale_version"
    report = _run(faulty, requests=20, concurrency=1)
    writes = report.endpoints()["POST /map"]
    assert writes.succeeded == 1  # the first write creates version 1; the rest keep answering 1
    assert writes.failures == {"wrong_body": 9}
    assert any("not confirmed" in text for text in report.failure_examples()["wrong_body"])


def test_redirects_on_the_api_are_classified_by_status(faulty):
    faulty.mode = "redirect"
    report = _run(faulty)
    assert report.overall.failures == {"http_301": 20}
    livez = next(c for c in report.preflight if c.name == "livez")
    assert livez.status == "fail"
    assert "301" in livez.summary


def test_a_refused_connection_stops_at_pre_flight_naming_the_address(faulty):
    target = from_url("http://127.0.0.1:1", token=TOKEN, expect_redirect=False)
    report = run_smoke(target, SmokeOptions(requests=4, concurrency=2, gates=LENIENT))
    assert report.samples == []  # no request repeats what the pre-flight already found
    (livez,) = [c for c in report.preflight if c.name == "livez"]
    assert livez.failed
    assert livez.data["failure"] == "connect"
    assert "127.0.0.1:1" in livez.summary
    error = breach(report)
    assert "stopped at pre-flight" in error.message
    assert "127.0.0.1:1" in error.message
    assert "p95" not in error.message


def test_a_429_from_the_edge_says_so_with_its_allowance_and_retry_after(faulty):
    from dataclasses import replace

    from stacks import outputs as names

    faulty.mode = "status429"
    target = from_url(f"http://127.0.0.1:{faulty.port}", token=TOKEN, expect_redirect=False)
    edge = {names.EDGE_RATE_LIMIT: 600, names.EDGE_RATE_WINDOW_SECONDS: 60}
    report = run_smoke(replace(target, edge_outputs=edge), SmokeOptions(requests=4, concurrency=1, gates=LENIENT))
    assert report.overall.failures == {"http_429": 4}
    error = breach(report)
    assert "rate limit refused 4 of 4 requests with 429 (Retry-After 37 s)" in error.message
    assert "600 requests per 60 s" in error.hint
    assert "wait 37 s" in error.hint
    assert "reports carry every request" not in error.hint


def test_max_failures_allows_some_failures(faulty):
    faulty.mode = "status500"
    report = _run(faulty, requests=4, concurrency=1, gates=Gates(max_failures=4))
    assert _gate(report, "failures").passed


@pytest.mark.parametrize(
    ("mode", "delay", "args", "broken"),
    [
        ("status500", 0, ["--p95-ms", "2000"], ["failures"]),
        ("slow", 0.25, ["--timeout", "3"], ["p95"]),
        ("slow", 0.3, ["--timeout", "0.1", "--p95-ms", "2000"], ["failures"]),
        ("reset", 0, [], ["failures", "p95"]),
        ("wrong_body", 0, ["--p95-ms", "2000"], ["failures"]),
    ],
)
def test_the_command_exits_1_and_names_the_broken_gates(infra, faulty, mode, delay, args, broken):
    faulty.mode, faulty.delay_s = mode, delay
    result = infra("smoke", "--url", faulty.base_url, "--token", TOKEN, "-n", "10", *args, "--json", code=1)
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert doc["error"]["kind"] == "SmokeFailed"
    assert [g["name"] for g in doc["smoke"]["gates"] if not g["passed"]] == broken
    assert result.stderr.startswith("error: "), "under --json stderr holds the error alone"
    assert TOKEN not in result.stdout + result.stderr


def test_the_command_exits_0_on_a_pass(infra, faulty):
    result = infra(
        "smoke", "--url", faulty.base_url, "--token", TOKEN, "-n", "10", "--p95-ms", "2000", "--json", code=0
    )
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["smoke"]["passed"] is True
    assert doc["smoke"]["overall"]["requests"] == 10
    assert result.stderr == ""


def test_reports_of_a_breach_carry_the_failures(faulty, tmp_path):
    import xml.etree.ElementTree as ET

    from cli.smoke.html import html_report
    from cli.smoke.junit import junit_xml

    faulty.mode = "status500"
    report = _run(faulty, requests=6, concurrency=2)
    suites = ET.fromstring(junit_xml(report))  # noqa: S314 (our own document)
    failed = [c.get("name") for c in suites.iter("testcase") if c.find("failure") is not None]
    assert failed == ["failures"]
    assert suites.get("failures") == "1"
    assert "http_500: 6" in suites.find(".//failure").text
    page = html_report(report)
    assert "failed: failures" in page
    assert "http_500" in page
    assert page.count("<svg") == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
        b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    ],
)
def test_malformed_answers_are_protocol_failures_of_the_run_not_waits(answer):
    with serve(RawServer(answer)) as server:
        target = from_url(server.base_url, token=TOKEN, expect_redirect=False)
        report = run_smoke(target, SmokeOptions(requests=6, concurrency=2, gates=LENIENT))
    assert report.overall.failures == {"protocol": 6}
    livez = next(c for c in report.preflight if c.name == "livez")
    assert livez.summary.startswith("protocol: ")
    # each failure closed its connection: livez, the six requests, the backend checks' heartbeat and the files
    # check's GET /openapi.json
    assert server.connections == 9
    assert report.checks[0].summary.startswith("cannot tell: GET /heartbeat: protocol: ")
