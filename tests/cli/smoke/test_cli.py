"""`infra smoke --stack` and `infra up --smoke`: the target and token from the stack, exit codes, usage errors."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from cli.core.outputs import StackOutput
from cli.smoke import flow
from cli.smoke.check import SmokeOptions
from tests.cli import events
from tests.cli.cognito_pool import SIGN_IN_SCOPE, TokenEndpoint, create_pool, moto_key_set
from tests.cli.smoke.untimed import UNTIMED, UNTIMED_FLAGS


@pytest.fixture
def aws(monkeypatch):
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")


@pytest.fixture
def pool(aws):
    """The dev stack's user pool in moto, its token endpoint and its key set, for as long as the test runs."""
    pool = create_pool(boto3.client("cognito-idp", region_name="eu-west-1"), "eu-west-1")
    keys = moto_key_set().start()
    with TokenEndpoint() as endpoint:
        yield pool, endpoint, keys
    keys.stop()


@pytest.fixture
def stack_api(postgres, start_app, pool):
    """The API as the dev stack runs it: trusting the stack's pool, its two clients and its sign-in scope."""
    pool, _, keys = pool
    return start_app(
        postgres.url(),
        WORKERS="1",
        JWT_SECRET="",
        JWT_JWKS_URL=keys.url,
        JWT_ISSUER=pool.issuer,
        JWT_AUDIENCE=f"{pool.app_id},{pool.machine_id}",
        JWT_USER_SCOPE=SIGN_IN_SCOPE,
    )


def _outputs(url: str, pool=None, endpoint=None) -> dict[str, StackOutput]:
    outputs = {"service_url": StackOutput(url, False), "region": StackOutput("eu-west-1", False)}
    if pool is not None:
        outputs.update(
            {
                "user_pool_id": StackOutput(pool.pool_id, False),
                "app_client_id": StackOutput(pool.app_id, False),
                "machine_client_id": StackOutput(pool.machine_id, False),
                "token_endpoint": StackOutput(endpoint.url, False),
                "jwt_issuer": StackOutput(pool.issuer, False),
            }
        )
    return outputs


ACCESS_CHECKS = ("own_record", "other_write", "other_read", "scope")


def test_smoke_a_stack_with_tokens_of_its_user_pool(infra, fake, pool, stack_api):
    pool, endpoint, _ = pool
    fake.script("outputs", result=_outputs(stack_api.base_url, pool, endpoint))
    result = infra("smoke", "--stack", "dev", "-n", "40", "--json", *UNTIMED_FLAGS, code=0)
    doc = json.loads(result.stdout)
    assert doc["smoke"]["target"] == {"url": stack_api.base_url, "source": "stack dev"}
    assert doc["smoke"]["endpoints"]["POST /map"]["succeeded"] == 20, "the machine token carries the admin scope"
    checks = {c["name"]: c for c in doc["smoke"]["checks"]}
    # No user is created for the ownership checks without asking; the scope check runs all the same.
    statuses = {n: checks[n]["status"] for n in ACCESS_CHECKS}
    assert statuses == {**dict.fromkeys(ACCESS_CHECKS[:3], "skip"), "scope": "pass"}
    assert "infra token --stack dev --user infra-smoke" in checks["own_record"]["summary"]

    created = infra("token", "--stack", "dev", "--user", "infra-smoke", "--yes", "--json", code=0)
    assert set(json.loads(created.stdout)) >= {"access_token", "expires_in", "sub"}
    result = infra("smoke", "--stack", "dev", "-n", "20", "--json", *UNTIMED_FLAGS, code=0)
    checks = {c["name"]: c for c in json.loads(result.stdout)["smoke"]["checks"]}
    assert {n: checks[n]["status"] for n in ACCESS_CHECKS} == dict.fromkeys(ACCESS_CHECKS, "pass")
    assert checks["scope"]["summary"] == "a write with the read scope only: 403 insufficient_scope"


def test_no_backend_on_a_stack_runs_none_of_the_backend_checks(infra, fake, pool, stack_api):
    pool, endpoint, _ = pool
    fake.script("outputs", result=_outputs(stack_api.base_url, pool, endpoint))
    result = infra("smoke", "--stack", "dev", "--no-backend", "-n", "4", "--json", *UNTIMED_FLAGS, code=0)
    checks = {c["name"] for c in json.loads(result.stdout)["smoke"]["checks"]}
    assert checks <= set(ACCESS_CHECKS), "only the authorization checks, none of the backend's"


def test_a_token_of_a_cloud_user_needs_a_confirmation_and_its_password_is_kept(infra, fake, pool, aws):
    pool, endpoint, _ = pool
    fake.script("outputs", result=_outputs("https://api.dev.example.com", pool, endpoint))
    refused = infra("token", "--stack", "dev", "--user", "alice", code=2)
    assert "--yes" in refused.stderr
    idp = boto3.client("cognito-idp", region_name="eu-west-1")
    assert idp.list_users(UserPoolId=pool.pool_id)["Users"] == [], "nothing is created without the confirmation"
    first = json.loads(infra("token", "--stack", "dev", "--user", "alice", "--yes", "--json", code=0).stdout)
    again = json.loads(infra("token", "--stack", "dev", "--user", "alice", "--json", code=0).stdout)
    assert first["sub"] == again["sub"]
    password = aws.get_secret_value(SecretId="groundwork/dev/token-users/alice")["SecretString"]
    assert password not in json.dumps(first)
    idp.admin_create_user(UserPoolId=pool.pool_id, Username="bob", MessageAction="SUPPRESS")
    stranger = infra("token", "--stack", "dev", "--user", "bob", "--yes", code=2)
    assert "not created by `infra token`" in stranger.stderr
    machine = json.loads(infra("token", "--stack", "dev", "--client", "--scope", "map/read", "--json", code=0).stdout)
    assert machine["sub"] == pool.machine_id
    assert machine["scope"] == "map/read"


def test_no_aws_credentials_say_so(infra, fake, monkeypatch, tmp_path, pool):
    pool, endpoint, _ = pool
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    fake.script("outputs", result=_outputs("https://api.dev.example.com", pool, endpoint))
    doc = infra.json("smoke", "--stack", "dev", code=2)
    assert doc["error"]["kind"] == "CredentialsError"


def test_a_stack_never_deployed_has_no_service_url(infra, fake):
    fake.script("outputs", result={})
    result = infra("smoke", "--stack", "dev", code=2)
    assert "no 'service_url' output" in result.stderr
    assert "infra up --stack dev" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "dev", "--url", "http://127.0.0.1:1"], "alternatives"),
        (["--url", "http://127.0.0.1:1"], "need a bearer token"),
        (["--url", "not a url", "--token", "t"], "the service URL has whitespace"),
        (["--url", "http://127.0.0.1:1", "--token", "t", "--profile", "5g"], "no network profile named '5g'"),
        (["--url", "http://127.0.0.1:1", "--token", "t", "--expect-redirect"], "needs an https:// URL"),
        (["--stack", "dev", "--expect-redirect"], "is for --url"),
    ],
)
def test_usage_errors_exit_2_before_any_request(infra, fake, args, message):
    result = infra("smoke", *args, code=2)
    assert message in result.stderr
    assert fake.calls == []


@pytest.mark.parametrize("args", [["--requests", "0"], ["--concurrency", "0"], ["--timeout", "0"]])
def test_out_of_range_options_are_usage_errors(infra, args):
    infra("smoke", "--url", "http://127.0.0.1:1", "--token", "t", *args, code=2)


def test_a_profile_is_reported_beside_the_results(infra, faulty, tmp_path):
    extra = tmp_path / "profiles.toml"
    extra.write_text('[near]\ndescription = "a nearby link"\nrtt_ms = 5\ndown_kbps = 50000\n')
    doc = infra.json(
        "smoke",
        "--url",
        faulty.base_url,
        "--token",
        "t",
        "-n",
        "20",
        "--profile",
        "near",
        "--profiles-file",
        str(extra),
        "--p95-ms",
        "2000",
    )
    assert doc["smoke"]["profile"]["name"] == "near"
    assert doc["smoke"]["overall"]["p50_ms"] >= 5


def _script_deploy(fake, outputs):
    fake.script("preview", events=events.first_deploy("dev", planning=True))
    fake.script("up", events=events.first_deploy("dev", planning=False), result=outputs)


def test_up_smoke_runs_the_check_after_applying(infra, fake, pool, stack_api, monkeypatch):
    # `up --smoke` runs the default gates; this test is not about latency (a loaded machine's p95 must not fail it)
    monkeypatch.setattr(flow, "SmokeOptions", lambda: SmokeOptions(gates=UNTIMED))
    pool, endpoint, _ = pool
    _script_deploy(fake, _outputs(stack_api.base_url, pool, endpoint))
    result = infra("up", "--stack", "dev", "--yes", "--smoke", "--json", code=0)
    doc = json.loads(result.stdout)
    assert [call for call, _, _ in fake.calls] == ["preview", "up"]
    assert doc["applied"]["counts"]["create"] == 5
    assert doc["smoke"]["passed"] is True
    assert doc["smoke"]["overall"]["requests"] == 200
    assert result.stderr == ""
    told = infra("up", "--stack", "dev", "--yes", "--smoke", code=0)
    assert told.stderr.index("applied dev") < told.stderr.index("smoke check passed")


def test_up_smoke_fails_the_command_when_the_check_fails(infra, fake, pool, faulty):
    faulty.mode = "status500"
    pool, endpoint, _ = pool
    _script_deploy(fake, _outputs(faulty.base_url, pool, endpoint))
    result = infra("up", "--stack", "dev", "--yes", "--smoke", "--json", code=1)
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert doc["error"]["kind"] == "SmokeFailed"
    assert doc["applied"]["counts"]["create"] == 5
    assert doc["smoke"]["overall"]["failures"] == {"http_500": 200}
    assert result.stderr.startswith("error: "), "under --json stderr holds the error alone"
    assert "eyJ" not in result.stdout + result.stderr, "no token is shown"


def test_the_local_stack_is_the_default_target(infra, project, faulty, monkeypatch):
    from cli.local import verbs
    from cli.smoke.endpoint import ServiceEndpoint

    asked = []

    def local_target(project_dir, token=None, ca_file=None):
        asked.append(project_dir)
        return ServiceEndpoint(faulty.base_url, "local-token", "stack local")

    monkeypatch.setattr(verbs, "smoke_target", local_target)
    doc = infra.json("smoke", "-n", "10", "--p95-ms", "2000")
    assert asked == [project]
    assert doc["smoke"]["target"]["source"] == "stack local"


def test_smoke_on_a_local_stack_that_is_not_up_says_how_to_start_it(infra, project):
    result = infra("smoke", "--stack", "local", code=2)
    assert "infra up --stack local" in result.stderr


CREDENTIAL = "hunter2-credential"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://user:{c}@{hp}", "user info"),
        ("http://{c}@{hp}", "user info"),
        ("http://@{hp}", "user info"),
        ("http://user%3A{c}%40{hp}", "user info"),
        ("http://{hp}%40{c}", "user info"),
        ("http://{c}@[::1]:8080", "user info"),
        ("http://{hp}/?token={c}", "query"),
        ("http://{hp}?password={c}", "query"),
        ("http://{hp}/#{c}", "fragment"),
        ("http://{hp}\\@{c}", "backslash"),
        ("http://{hp}/\\{c}", "backslash"),
        ("gopher://{c}@{hp}", "only http and https"),
        ("javascript:{c}", "not an absolute"),
        ("http://{hp}/ {c}", "whitespace"),
        ("http://{hp}/\x00{c}", "control"),
        ("http://{hp}/\u202e{c}", "non-ASCII"),
        ("http://127.0.0.1:99999/{c}", "port 99999"),
        ("http://127.0.0.1:0/{c}", "port 0"),
        ("http://127.0.0.1:{c}", "port that is not a number"),
        ("http://[::1/{c}", "IPv6"),
        ("http://[fe80::1%25eth0]/{c}", "percent-encoded host"),
        ("http://::1:80/{c}", "brackets"),
        ("http://127.1/{c}", "IPv4"),
        ("http://{hp}/%zz{c}", "path"),
    ],
)
def test_urls_with_credentials_or_odd_spellings_are_refused_and_nothing_is_sent_or_written(
    infra, faulty, tmp_path, url, message
):
    url = url.format(c=CREDENTIAL, hp=f"127.0.0.1:{faulty.port}")
    junit, html = tmp_path / "smoke.xml", tmp_path / "smoke.html"
    result = infra("smoke", "--url", url, "--token", "a" * 32, "--json", "--junit", str(junit), "--html", str(html))
    assert result.exit_code == 2, result.stderr
    doc = json.loads(result.stdout)
    assert doc["error"]["kind"] == "ConfigError"
    assert message in doc["error"]["message"]
    assert CREDENTIAL not in result.stdout + result.stderr
    assert not junit.exists()
    assert not html.exists()
    assert faulty.requests == 0


@pytest.mark.parametrize(
    ("token", "via_env"),
    [
        ("abc\r\nX-Injected: 1", True),
        ("abc\r\nX-Injected: 1", False),
        ("bearer with spaces", False),
        ("t\x00k", False),
        ("tøken", False),
        ("x" * 20000, False),
    ],
)
def test_a_token_a_header_cannot_carry_is_refused_without_being_shown(infra, faulty, monkeypatch, token, via_env):
    if via_env:
        monkeypatch.setenv("INFRA_SMOKE_TOKEN", token)
    result = infra("smoke", "--url", faulty.base_url, *([] if via_env else ["--token", token]), code=2)
    assert "bearer token" in result.stderr
    assert token[:12] not in result.stdout + result.stderr
    assert faulty.requests == 0


@pytest.mark.parametrize("kind", ["jwt", "opaque"])
def test_a_server_quoting_the_token_does_not_get_it_into_any_report(infra, faulty, tmp_path, kind):
    from tests.conftest import mint_token

    token = mint_token() if kind == "jwt" else "opaque-" + "k" * 40
    faulty.mode = "echo"
    junit, html = tmp_path / "smoke.xml", tmp_path / "smoke.html"
    result = infra(
        "smoke", "--url", faulty.base_url, "--token", token, "-n", "10", "--junit", str(junit), "--html", str(html),
        "--json", code=1,
    )  # fmt: skip
    doc = json.loads(result.stdout)
    assert doc["smoke"]["overall"]["failures"] == {"http_401": 10}
    assert "token rejected: Bearer [redacted]" in json.dumps(doc["smoke"]["failure_examples"])
    everything = result.stdout + result.stderr + junit.read_text() + html.read_text()
    # Snippets are cut at 120 characters: not even the start of the token may show.
    assert token[:40] not in everything
