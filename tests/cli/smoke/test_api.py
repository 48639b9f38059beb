"""The check against the real API on real PostgreSQL: 200 requests pass the gates and every write persisted."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from cli.smoke.check import SmokeOptions, run_smoke
from cli.smoke.endpoint import from_url
from cli.smoke.profiles import Profile
from tests.cli.smoke.untimed import UNTIMED, UNTIMED_FLAGS
from tests.conftest import mint_token


def _writes(postgres, run_id):
    """The records a run wrote, with their versions."""
    rows = postgres.query("SELECT user_id, version FROM user_practice WHERE user_id LIKE %s", (f"smoke-{run_id}-%",))
    return dict(rows)


def test_200_requests_pass_and_every_write_is_in_the_database(api, postgres):
    report = run_smoke(
        from_url(api.base_url, token=mint_token(scope="map/admin"), expect_redirect=False), SmokeOptions(gates=UNTIMED)
    )
    assert report.passed, (report.to_json()["gates"], report.failure_examples())
    assert report.overall.requests == 200
    assert report.overall.failures == {}
    assert report.endpoints()["POST /map"].succeeded == 100
    assert report.endpoints()["GET /heartbeat"].succeeded == 100
    assert report.database()["samples"] == 100
    assert report.service["name"] == "groundwork-api"
    written = _writes(postgres, report.run_id)
    # One record per worker that got to write (how the 100 writes spread over ten workers is up to the
    # scheduler); every confirmed write raised its record's version by one.
    assert 1 <= len(written) <= 10
    assert sum(written.values()) == 100
    assert [c.status for c in report.preflight] == ["pass", "pass"]


def test_read_only_makes_no_writes(api, postgres):
    report = run_smoke(
        from_url(api.base_url, token=None, expect_redirect=False),
        SmokeOptions(requests=20, writes=False, gates=UNTIMED),
    )
    assert report.passed
    assert list(report.endpoints()) == ["GET /heartbeat"]
    assert _writes(postgres, report.run_id) == {}


def test_a_token_from_another_secret_fails_every_write_with_401(api):
    token = mint_token(scope="map/admin", secret="another-secret-" + "y" * 40)
    report = run_smoke(from_url(api.base_url, token=token, expect_redirect=False), SmokeOptions(requests=20))
    # The heartbeats carry the token too (for the database details), so every request is refused.
    assert report.overall.failures == {"http_401": 20}
    assert "token signature is invalid" in report.failure_examples()["http_401"][0]
    assert not report.passed


def test_through_a_network_profile_the_latency_carries_the_profile(api):
    profile = Profile(name="slow-link", description="test", rtt_ms=40, down_kbps=20000, up_kbps=20000)
    target = from_url(api.base_url, token=mint_token(scope="map/admin"), expect_redirect=False)
    report = run_smoke(target, SmokeOptions(requests=40, profile=profile, seed=1, gates=UNTIMED))
    assert report.passed, report.failure_examples()
    assert report.overall.percentiles_ms[50] >= 40
    assert report.to_json()["profile"]["rtt_ms"] == 40


@pytest.fixture
def direct_api(postgres, start_app):
    return start_app(postgres.url(), WORKERS="1")


def test_the_command_writes_every_output_format(infra, direct_api, tmp_path):
    token = mint_token(scope="map/admin")
    junit, html = tmp_path / "smoke.xml", tmp_path / "smoke.html"
    result = infra(
        "smoke", "--url", direct_api.base_url, "--token", token, "--junit", str(junit), "--html", str(html), "--json",
        *UNTIMED_FLAGS, code=0,
    )  # fmt: skip
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert len(doc["smoke"]["samples"]) == 200
    assert doc["smoke"]["overall"]["failed"] == 0
    assert result.stderr == ""
    told = infra("smoke", "--url", direct_api.base_url, "--token", token, *UNTIMED_FLAGS, code=0)
    for text in ("pre-flight", "GET /heartbeat", "POST /map", "overall", "latency distribution", "gate p95"):
        assert text in told.stderr
    assert "smoke check passed" in told.stderr

    suites = ET.parse(junit).getroot()  # noqa: S314 (our own file)
    assert suites.tag == "testsuites"
    assert suites.get("failures") == "0"
    cases = {(c.get("classname"), c.get("name")) for c in suites.iter("testcase")}
    assert ("smoke.gates", "p95") in cases
    assert ("smoke.preflight", "livez") in cases

    page = html.read_text()
    assert page.count("<svg") == 2
    assert "latency over time" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    for output in (result.stdout, result.stderr, junit.read_text(), page):
        assert token not in output
