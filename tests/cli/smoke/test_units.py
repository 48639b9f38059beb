"""Pieces of the check on their own: percentiles, histograms, tokens, gates, profiles and targets."""

from __future__ import annotations

import pytest

from cli.core.errors import ConfigError, StackNotFound
from cli.core.outputs import StackOutput
from cli.core.stack_ref import resolve_stack_ref
from cli.smoke.access import AccessTokens
from cli.smoke.endpoint import from_stack, from_url, normalise_url
from cli.smoke.gates import Gates, evaluate
from cli.smoke.preflight import Check
from cli.smoke.profiles import BUILTIN, get_profile, load_profiles
from cli.smoke.stats import Sample, histogram, percentile, summarise
from tests.conftest import mint_token


def test_nearest_rank_percentiles():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 95) == 7
    assert percentile([], 50) is None


def test_summary_times_answers_and_timeouts_but_not_refused_connections():
    samples = [
        Sample("GET /a", 0, 10.0, None, 200),
        Sample("GET /a", 0, 30.0, "http_500", 500),
        Sample("GET /a", 0, 1000.0, "timeout"),
        Sample("GET /a", 0, 0.1, "connect"),
    ]
    summary = summarise(samples, wall_s=2.0)
    assert summary.requests == 4
    assert summary.succeeded == 1
    assert summary.failures == {"http_500": 1, "timeout": 1, "connect": 1}
    assert summary.max_ms == 1000
    assert summary.percentiles_ms[50] == 30
    assert summary.throughput_rps == 2.0


def test_histogram_covers_every_value():
    values = [1.0, 1.5, 2.0, 3.0, 50.0, 120.0]
    bins = histogram(values, bins=6)
    assert sum(count for _, _, count in bins) == len(values)
    assert bins[0][0] == 1.0
    assert bins[-1][1] == 120.0
    assert histogram([5.0, 5.0]) == [(5.0, 5.0, 2)]


def _summary(failed: int, p95: float | None):
    samples = [Sample("GET /a", 0, p95 or 0.0, "connect" if i < failed else None, 200) for i in range(10)]
    if p95 is None:
        samples = [Sample("GET /a", 0, 0.0, "connect") for _ in range(10)]
    return summarise(samples, 1.0)


def test_gates_are_strict_about_the_latency_limit():
    results = {g.name: g for g in evaluate(Gates(p95_ms=200), _summary(0, 200.0), [])}
    assert not results["p95"].passed
    results = {g.name: g for g in evaluate(Gates(p95_ms=200), _summary(0, 199.9), [])}
    assert results["p95"].passed
    assert results["failures"].passed
    assert results["preflight"].passed
    assert "p99" not in results


def test_gates_count_failures_and_failed_checks():
    checks = [Check("dns", "pass", ""), Check("tls", "warn", ""), Check("livez", "fail", "answered 503")]
    results = {g.name: g for g in evaluate(Gates(max_failures=2, p99_ms=50), _summary(3, 10.0), checks)}
    assert not results["failures"].passed
    assert results["failures"].actual == "3 of 10 failed"
    assert not results["preflight"].passed
    assert results["preflight"].actual == "failed: livez"
    assert results["p99"].passed


def test_builtin_profiles_are_the_documented_ones():
    profiles = load_profiles()
    assert {"wifi", "4g", "3g", "lossy"} <= set(profiles)
    three_g = profiles["3g"]
    assert three_g.rtt_ms > profiles["4g"].rtt_ms > profiles["wifi"].rtt_ms
    assert three_g.down_kbps < profiles["4g"].down_kbps
    assert profiles["lossy"].loss_percent > three_g.loss_percent
    assert BUILTIN.name == "profiles.toml"


def test_a_user_file_adds_and_overrides_profiles(tmp_path):
    extra = tmp_path / "mine.toml"
    extra.write_text('[satellite]\ndescription = "GEO"\nrtt_ms = 600\ndown_kbps = 20000\n[wifi]\ndescription = "x"\n')
    assert get_profile("satellite", extra).rtt_ms == 600
    assert get_profile("wifi", extra).rtt_ms == 0
    assert get_profile("4g", extra).rtt_ms == load_profiles()["4g"].rtt_ms


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[x]\nrtt = 5\n", "unknown keys: rtt"),
        ("[x]\nrtt_ms = -5\n", "rtt_ms = -5"),
        ("[x]\nloss_percent = 150\n", "loss_percent above 100"),
        ("[x]\ndown_kbps = 0\n", "down_kbps = 0"),
        ("[x\n", "not valid TOML"),
    ],
)
def test_bad_profiles_are_configuration_errors(tmp_path, text, message):
    extra = tmp_path / "bad.toml"
    extra.write_text(text)
    with pytest.raises(ConfigError, match=message):
        get_profile("x", extra)


def test_an_unknown_profile_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        get_profile("5g")
    assert "3g, 4g, lossy, wifi" in info.value.hint


@pytest.mark.parametrize("url", ["ftp://x", "api.example.com", "https://", "https://x/?a=1", "http://x:99999"])
def test_urls_that_are_not_service_urls_are_refused(url):
    with pytest.raises(ConfigError):
        normalise_url(url)


def test_urls_are_normalised():
    assert normalise_url("https://api.example.com/") == "https://api.example.com"
    assert normalise_url(" http://127.0.0.1:8000/base/ ") == "http://127.0.0.1:8000/base"
    assert normalise_url("HTTPS://API.Example.com:443/V1/") == "https://api.example.com:443/V1"
    assert normalise_url("http://[0:0::1]:8080/api/") == "http://[::1]:8080/api"
    assert normalise_url("https://api.example.com/@team/") == "https://api.example.com/@team"


def test_a_url_target_checks_the_redirect_only_when_asked():
    assert from_url("https://api.example.com", token=None, expect_redirect=False).redirect_port is None
    assert from_url("https://api.example.com", token=None, expect_redirect=True).redirect_port == 80
    with pytest.raises(ConfigError):
        from_url("http://api.example.com", token=None, expect_redirect=True)


def test_the_token_is_never_in_the_target_repr():
    target = from_url("https://api.example.com", token="very-secret-token", expect_redirect=False)
    assert "very-secret-token" not in repr(target)


def _outputs(**values):
    base = {
        "service_url": StackOutput("https://api.dev.example.com", False),
        "region": StackOutput("eu-west-1", False),
    }
    base.update({k: StackOutput(v, False) for k, v in values.items()})
    return {k: v for k, v in base.items() if v.value is not None}


def test_a_stack_target_carries_the_tokens_its_backend_got(project):
    access = AccessTokens("user-token-" + "u" * 20, "sub-1", "read-token-" + "r" * 20, "machine")
    smoke_target = from_stack(resolve_stack_ref("dev", project), _outputs(), token="given", access=access)
    assert smoke_target.base_url == "https://api.dev.example.com"
    assert smoke_target.redirect_port == 80
    assert (smoke_target.token, smoke_target.access) == ("given", access)
    assert "u" * 20 not in repr(smoke_target)
    assert "r" * 20 not in repr(smoke_target)


def test_a_stack_without_a_service_url_is_not_deployed(project):
    with pytest.raises(StackNotFound, match="service_url"):
        from_stack(resolve_stack_ref("dev", project), _outputs(service_url=None), token="t")


def test_a_stack_whose_service_url_carries_credentials_is_refused_without_quoting_them(project):
    outputs = _outputs(service_url="https://admin:s3cr3t-value@api.dev.example.com")
    with pytest.raises(ConfigError, match="user info") as raised:
        from_stack(resolve_stack_ref("dev", project), outputs, token=None)
    assert "s3cr3t-value" not in str(raised.value) + raised.value.hint


def test_the_redactor_masks_a_token_and_each_long_part_of_it():
    from cli.smoke.redact import MASK, Redactor

    token = mint_token()
    _, claims, signature = token.split(".")
    redact = Redactor(token)
    assert redact.text(f"got {token}!") == f"got {MASK}!"
    assert redact.text(f"signature {signature} alone") == f"signature {MASK} alone"
    assert redact.body(f"claims {claims}".encode()) == f"claims {MASK}".encode()
    assert redact.value({"name": [token], "n": 1}) == {"name": [MASK], "n": 1}
    assert Redactor("short").text("a short text") == "a short text"
    assert Redactor(None).text(token) == token
