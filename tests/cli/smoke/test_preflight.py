"""Pre-flight checks: DNS, TLS against a private CA (trusted, untrusted, wrong host, near expiry), redirect."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import trustme

from cli.smoke import preflight
from cli.smoke.check import SmokeOptions, run_smoke
from cli.smoke.endpoint import ServiceEndpoint
from cli.smoke.gates import Gates
from tests.cli.smoke.conftest import server_context
from tests.cli.smoke.faulty import FaultyServer, RawServer, serve

TOKEN = "a-test-token-not-a-real-one"


def _check(report, name):
    return next(c for c in report.preflight if c.name == name)


def _smoke(server, ca_file, redirect_port=None, requests=6):
    target = ServiceEndpoint(server.base_url, TOKEN, "url", redirect_port=redirect_port, ca_file=ca_file)
    return run_smoke(target, SmokeOptions(requests=requests, concurrency=3, gates=Gates(p95_ms=2000)))


def test_tls_with_a_trusted_certificate_passes_and_reports_expiry(ca, ca_file):
    with serve(FaultyServer(tls=server_context(ca, "127.0.0.1"))) as server:
        report = _smoke(server, ca_file)
    tls = _check(report, "tls")
    assert tls.status == "pass", tls.summary
    assert tls.data["days_to_expiry"] > 30
    assert "chain verified" in tls.summary
    assert report.passed
    assert report.overall.failures == {}


def test_a_certificate_from_an_untrusted_ca_fails_tls_everywhere(ca_file):
    other = trustme.CA()
    with serve(FaultyServer(tls=server_context(other, "127.0.0.1"))) as server:
        report = _smoke(server, ca_file)
    tls = _check(report, "tls")
    assert tls.status == "fail"
    assert "certificate rejected" in tls.summary
    assert "unable to get local issuer certificate" in tls.summary
    # The pre-flight could not reach the service, so the run stops there and sends no request.
    assert report.overall.failures == {}
    assert not report.passed


def test_a_certificate_for_another_host_fails_tls(ca, ca_file):
    with serve(FaultyServer(tls=server_context(ca, "other.example"))) as server:
        report = _smoke(server, ca_file)
    tls = _check(report, "tls")
    assert tls.status == "fail"
    assert "mismatch" in tls.summary.lower() or "doesn't match" in tls.summary
    # The pre-flight could not reach the service, so the run stops there and sends no request.
    assert report.overall.failures == {}


def test_a_certificate_near_expiry_warns_without_failing(ca, ca_file):
    soon = datetime.now(UTC) + timedelta(days=10, hours=1)
    with serve(FaultyServer(tls=server_context(ca, "127.0.0.1", not_after=soon))) as server:
        report = _smoke(server, ca_file)
    tls = _check(report, "tls")
    assert tls.status == "warn"
    assert tls.data["days_to_expiry"] == 10
    assert "renew" in tls.summary
    assert report.passed


def test_plain_http_redirecting_to_https_passes(ca, ca_file):
    with (
        serve(FaultyServer(tls=server_context(ca, "127.0.0.1"))) as server,
        serve(FaultyServer(mode="redirect")) as plain,
    ):
        report = _smoke(server, ca_file, redirect_port=plain.port)
    check = _check(report, "redirect")
    assert check.status == "pass", check.summary
    assert check.data == {"http_status": 301, "location": "https://127.0.0.1/livez"}
    assert report.passed


def test_plain_http_that_does_not_redirect_fails_the_preflight_gate(ca, ca_file):
    with (
        serve(FaultyServer(tls=server_context(ca, "127.0.0.1"))) as server,
        serve(FaultyServer(mode="ok")) as plain,
    ):
        report = _smoke(server, ca_file, redirect_port=plain.port)
    check = _check(report, "redirect")
    assert check.status == "fail"
    assert "instead of redirecting" in check.summary
    assert [g.name for g in report.broken] == ["preflight"]


@pytest.mark.parametrize(
    ("answer", "summary"),
    [
        (b"HTTP/1.1 301 Moved\r\nLocation: http://elsewhere.example/\r\nContent-Length: 0\r\n\r\n", "elsewhere"),
        (b"HTTP/1.1 301 Moved\r\nLocation: http://api.example.com/\r\nContent-Length: 0\r\n\r\n", "not https"),
        (
            b"HTTP/1.1 301 Moved\r\nLocation: https://api.example.com.evil.example/\r\nContent-Length: 0\r\n\r\n",
            "evil.example",
        ),
        (b"HTTP/1.1 301 Moved\nLocation: https://api.example.com/\n\n", "protocol"),
    ],
)
def test_a_redirect_elsewhere_or_malformed_fails(answer, summary):
    with serve(RawServer(answer)) as server:
        check = asyncio.run(preflight.redirect("api.example.com", "127.0.0.1", server.port, 5))
    assert check.status == "fail"
    assert summary in check.summary


def test_a_redirect_to_https_on_the_same_host_passes_on_any_port():
    answer = b"HTTP/1.1 308 Permanent\r\nLocation: https://API.example.com:8443/livez\r\nContent-Length: 0\r\n\r\n"
    with serve(RawServer(answer)) as server:
        check = asyncio.run(preflight.redirect("api.example.com", "127.0.0.1", server.port, 5))
    assert check.status == "pass"
    assert (check.data["http_status"], check.data["location"]) == (308, "https://API.example.com:8443/livez")


def test_an_address_needs_no_resolution():
    check, addresses = asyncio.run(preflight.dns("127.0.0.1", 80, 1))
    assert check.status == "pass"
    assert addresses == ["127.0.0.1"]


def test_localhost_resolves_through_the_system_resolver():
    check, addresses = asyncio.run(preflight.dns("localhost", 80, 2))
    assert check.status == "pass"
    assert "127.0.0.1" in addresses or "::1" in addresses
    assert check.duration_ms is not None


@pytest.mark.parametrize("port", [1])
def test_tls_to_a_closed_port_says_it_cannot_connect(port, ca_file):
    import ssl

    context = ssl.create_default_context(cafile=ca_file)
    check = asyncio.run(preflight.tls("127.0.0.1", "127.0.0.1", port, context, 2))
    assert check.status == "fail"
    assert "cannot connect" in check.summary


def test_tls_works_through_the_shaping_proxy(ca, ca_file):
    from cli.smoke.profiles import Profile

    profile = Profile(name="near", description="test", rtt_ms=10)
    with serve(FaultyServer(tls=server_context(ca, "127.0.0.1"))) as server:
        target = ServiceEndpoint(server.base_url, TOKEN, "url", ca_file=ca_file)
        report = run_smoke(target, SmokeOptions(requests=6, concurrency=3, profile=profile, gates=Gates(p95_ms=2000)))
    assert report.passed, report.failure_examples()
    assert report.overall.percentiles_ms[50] >= 10
