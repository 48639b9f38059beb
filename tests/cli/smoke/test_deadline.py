"""The run's overall deadline: a server that accepts and never answers ends the run in time, naming the phase."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from cli.core.errors import ConfigError
from cli.smoke.check import DEFAULT_DEADLINE_S, SmokeOptions, run_smoke
from cli.smoke.endpoint import from_url
from cli.smoke.gates import Gates
from cli.smoke.profiles import Profile, get_profile
from tests.cli.smoke.faulty import RawServer, serve
from tests.cli.smoke.untimed import UNTIMED

TOKEN = "a-test-token-not-a-real-one"
SHORT = 0.4
"""The deadline these tests set: well under the per-request timeout of 5 s, so only the deadline can end the run."""


@pytest.fixture
def silent():
    """Accepts connections and reads, never answers: not even a TLS handshake."""
    with serve(RawServer(answer=None)) as server:
        yield server


def _gate(report, name):
    return next(g for g in report.gate_results if g.name == name)


def _run(url, **options):
    options.setdefault("gates", Gates(p95_ms=2000))
    options.setdefault("deadline_s", SHORT)
    target = from_url(url, token=TOKEN, expect_redirect=False)
    return run_smoke(target, SmokeOptions(requests=20, concurrency=5, timeout_s=5, **{"gates": UNTIMED, **options}))


def test_a_server_that_never_answers_runs_out_the_deadline_in_the_livez_check(silent):
    report = _run(silent.base_url)
    assert report.ran_out == "preflight livez"
    livez = next(c for c in report.preflight if c.name == "livez")
    assert livez.status == "fail"
    assert "deadline of 0.4 s ran out" in livez.summary
    assert report.samples == []
    deadline = _gate(report, "deadline")
    assert not deadline.passed
    assert deadline.actual == "ran out during preflight livez"


def test_a_tls_handshake_that_never_completes_runs_out_in_the_tls_check(silent):
    report = _run(f"https://127.0.0.1:{silent.port}")
    assert report.ran_out == "preflight tls"
    assert [c.name for c in report.preflight] == ["dns", "tls"]
    assert silent.connections == 1


def test_requests_that_are_never_answered_run_out_in_the_load(faulty):
    faulty.mode = "silent"
    report = _run(faulty.base_url)
    assert report.ran_out == "load"
    assert [(c.name, c.status) for c in report.preflight] == [("dns", "pass"), ("livez", "pass")]
    # The first request of each worker was in flight when the deadline ran out.
    assert report.overall.failures == {"deadline": 5}
    assert "0 of 20 requests done" in _gate(report, "deadline").actual
    assert report.to_json()["ran_out"] == "load"


def test_a_run_within_its_deadline_passes_the_gate(faulty):
    report = _run(faulty.base_url, deadline_s=30)
    assert report.ran_out is None
    assert report.passed
    assert _gate(report, "deadline").passed


def test_the_command_exits_1_naming_the_phase_and_writes_the_reports(infra, silent, tmp_path):
    junit = tmp_path / "smoke.xml"
    result = infra(
        "smoke", "--url", silent.base_url, "--token", TOKEN, "--deadline", str(SHORT), "--junit", str(junit),
        "--json", code=1,
    )  # fmt: skip
    doc = json.loads(result.stdout)
    assert "deadline of 0.4 s ran out during preflight livez" in doc["error"]["message"]
    assert "--deadline" in doc["error"]["hint"]
    assert doc["smoke"]["ran_out"] == "preflight livez"
    assert doc["smoke"]["settings"]["deadline_s"] == SHORT
    assert "ran out during preflight livez" in result.stderr
    suites = ET.parse(junit).getroot()  # noqa: S314 (our own file)
    failed = [c.get("name") for c in suites.iter("testcase") if c.find("failure") is not None]
    assert "deadline" in failed


def test_a_profile_sets_the_deadline_and_the_option_overrides_it(infra, silent, tmp_path):
    extra = tmp_path / "profiles.toml"
    extra.write_text(f'[short]\ndescription = "a short run"\ndeadline_s = {SHORT}\n')
    base = ["smoke", "--url", silent.base_url, "--token", TOKEN, "--profile", "short", "--profiles-file", str(extra)]
    doc = json.loads(infra(*base, "--json", code=1).stdout)
    assert doc["smoke"]["settings"]["deadline_s"] == SHORT
    assert doc["smoke"]["profile"]["deadline_s"] == SHORT
    doc = json.loads(infra(*base, "--deadline", "0.3", "--json", code=1).stdout)
    assert doc["smoke"]["settings"]["deadline_s"] == 0.3


def test_the_default_deadline_and_the_built_in_profiles():
    assert SmokeOptions().effective_deadline_s == DEFAULT_DEADLINE_S
    assert SmokeOptions(profile=get_profile("3g")).effective_deadline_s == 180
    assert SmokeOptions(profile=Profile("x", "no deadline")).effective_deadline_s == DEFAULT_DEADLINE_S
    assert SmokeOptions(profile=get_profile("3g"), deadline_s=5).effective_deadline_s == 5


@pytest.mark.parametrize("value", ["0", "-1", '"soon"', "true"])
def test_a_bad_deadline_in_a_profile_names_the_key(tmp_path, value):
    extra = tmp_path / "profiles.toml"
    extra.write_text(f'[bad]\ndescription = "x"\ndeadline_s = {value}\n')
    with pytest.raises(ConfigError, match="deadline_s"):
        get_profile("bad", extra)


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_a_bad_deadline_option_is_a_usage_error(infra, value):
    infra("smoke", "--url", "http://127.0.0.1:1", "--token", TOKEN, "--deadline", value, code=2)
