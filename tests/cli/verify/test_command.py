"""`infra verify` and `infra up --verify` end to end: exit codes, one JSON document, credentials, no secrets."""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest
from botocore.exceptions import ClientError

from cli.verify import runner
from tests.cli import events
from tests.cli.conftest import REPO
from tests.cli.verify import stack as healthy


@pytest.fixture
def deployed(cloud, fake, monkeypatch):
    """The fake engine returns the moto stack's outputs; DNS answers from a table."""
    fake.script("outputs", result=cloud.stack_outputs())
    monkeypatch.setattr(runner, "system_resolver", healthy.resolver())
    return cloud


def _open_the_app_bucket():
    boto3.client("s3", region_name=healthy.REGION).delete_public_access_block(Bucket=healthy.APP_BUCKET)


def test_a_healthy_stack_exits_0_with_one_json_document(infra, deployed):
    doc = infra.json("verify", "--stack", "dev")
    assert doc["ok"] is True
    assert doc["stack"] == "dev"
    assert doc["summary"] == {"pass": len(doc["checks"]), "warn": 0, "fail": 0}
    bucket = next(c for c in doc["checks"] if c["check"] == "public access blocked")
    assert set(bucket) == {"family", "check", "status", "resource", "observed", "expected"}


def test_the_human_report_goes_to_stderr(infra, deployed):
    result = infra("verify", "--stack", "dev", code=0)
    assert result.stdout == ""
    assert "database: encrypted" in result.stderr
    assert "storage encrypted" in result.stderr
    assert "dev: 43 passed, 0 warning(s), 0 failed" in result.stderr


def test_a_failed_check_exits_1_and_names_it(infra, deployed):
    _open_the_app_bucket()
    result = infra("verify", "--stack", "dev", code=1)
    assert "FAIL" in result.stderr
    assert "no public access block: the bucket may be public" in result.stderr
    assert f"dev: 1 verification check(s) failed: buckets public access blocked ({healthy.APP_BUCKET})" in " ".join(
        result.stderr.split()
    )


def test_a_failed_check_in_json_is_one_document_with_the_checks(infra, deployed):
    _open_the_app_bucket()
    result = infra("verify", "--stack", "dev", "--json", code=1)
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert doc["error"]["kind"] == "OperationFailed"
    assert doc["error"]["exit_code"] == 1
    assert doc["summary"]["fail"] == 1
    failed = [c for c in doc["checks"] if c["status"] == "fail"]
    assert failed == [
        {
            "family": "buckets",
            "check": "public access blocked",
            "status": "fail",
            "resource": healthy.APP_BUCKET,
            "observed": "no public access block: the bucket may be public",
            "expected": "public access blocked (all four block settings on)",
        }
    ]


def test_secret_outputs_and_values_are_never_printed(infra, deployed):
    result = infra("verify", "--stack", "dev", "--json", code=0)
    printed = result.stdout + result.stderr
    assert '"family": "secrets"' in printed
    for secret in (deployed.database_secret, *healthy.SECRET_VALUES.values()):
        assert secret not in printed


def test_missing_credentials_stop_with_exit_2_and_a_hint(infra, fake, project, monkeypatch, tmp_path):
    fake.script("outputs", result=healthy.Stack(outputs={"region": healthy.REGION}).stack_outputs())
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)
    result = infra("verify", "--stack", "dev", "--json", code=2)
    doc = json.loads(result.stdout)
    assert doc["error"]["kind"] == "CredentialsError"
    assert "could not find credentials" in doc["error"]["message"]
    assert "aws sso login" in doc["error"]["hint"]
    assert "aws sso login" in result.stderr


def test_expired_credentials_stop_with_exit_2(infra, deployed, monkeypatch):
    def expired(self, operation, params):
        raise ClientError(
            {"Error": {"Code": "ExpiredToken", "Message": "The security token included in the request is expired"}},
            operation,
        )

    monkeypatch.setattr("botocore.client.BaseClient._make_api_call", expired)
    result = infra("verify", "--stack", "dev", code=2)
    assert "AWS refused GetCallerIdentity: ExpiredToken" in " ".join(result.stderr.split())


def test_a_call_aws_denies_fails_that_family_only(verify, monkeypatch):
    from botocore.client import BaseClient

    real = BaseClient._make_api_call

    def deny_rds_instances(self, operation, params):
        if operation == "DescribeDBInstances":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", deny_rds_instances)
    report = verify()
    database = [c for c in report.checks if c.family == "database"]
    assert [(c.name, c.observed) for c in database] == [
        ("readable", "AWS refused DescribeDBInstances: AccessDenied (not allowed)")
    ]
    assert [c.family for c in report.failed] == ["database"]


def test_the_local_target_is_refused(infra, fake):
    result = infra("verify", code=2)
    assert "local" in result.stderr
    assert "--stack dev" in result.stderr
    assert fake.calls == []


def _script_deploy(fake, cloud):
    fake.script("preview", events=events.first_deploy("dev", planning=True))
    fake.script("up", events=events.first_deploy("dev", planning=False), result=cloud.stack_outputs())


def test_up_verify_adds_the_report_to_the_up_document(infra, deployed, fake):
    _script_deploy(fake, deployed)
    doc = infra.json("up", "--stack", "dev", "--yes", "--verify")
    assert doc["ok"] is True
    assert doc["applied"]["counts"]["create"] == 5
    assert doc["verify"]["summary"]["fail"] == 0
    assert doc["outputs"]["database_secret_arn"] == "[secret]"


def test_up_verify_exits_1_after_applying_when_a_check_fails(infra, deployed, fake):
    _script_deploy(fake, deployed)
    _open_the_app_bucket()
    result = infra("up", "--stack", "dev", "--yes", "--verify", "--json", code=1)
    doc = json.loads(result.stdout)
    assert len(fake.called("up")) == 1
    assert doc["ok"] is False
    assert doc["applied"]["counts"]["create"] == 5
    assert doc["verify"]["summary"]["fail"] == 1
    assert "1 verification check(s) failed" in doc["error"]["message"]


def test_up_without_verify_calls_no_aws(infra, fake, project, monkeypatch):
    fake.script("preview", events=events.first_deploy("dev", planning=True))
    fake.script("up", events=events.first_deploy("dev", planning=False), result={})

    def no_aws(*args, **kwargs):
        raise AssertionError("verify ran without --verify")

    monkeypatch.setattr(runner, "verify_target", no_aws)
    doc = infra.json("up", "--stack", "dev", "--yes")
    assert "verify" not in doc


@pytest.mark.parametrize("argv", [["verify", "--help"], ["up", "--help"]])
def test_help_loads_no_aws_sdk(argv):
    code = (
        "import sys\n"
        "from cli.main import app\n"
        f"sys.argv = ['infra', *{argv!r}]\n"
        "try:\n    app(prog_name='infra')\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'stacks', 'pulumi'})\n"
        "print(heavy, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stderr.strip() == "[]"
    assert "--json" in out.stdout
    assert "--verify" in out.stdout or "--stack" in out.stdout


def test_aws_out_of_reach_is_one_clear_error(infra, deployed, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    def unreachable(self, operation, params):
        raise EndpointConnectionError(endpoint_url="https://sts.eu-west-1.amazonaws.com")

    monkeypatch.setattr("botocore.client.BaseClient._make_api_call", unreachable)
    doc = json.loads(infra("verify", "--stack", "dev", "--json", code=1).stdout)
    assert doc["error"]["kind"] == "OperationFailed"
    assert doc["error"]["message"].startswith("AWS could not be reached: Could not connect to the endpoint URL")
    assert "network access" in doc["error"]["hint"]


def test_an_unknown_profile_is_a_credentials_error(infra, deployed, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    doc = json.loads(infra("verify", "--stack", "dev", "--json", code=2).stdout)
    assert doc["error"]["kind"] == "CredentialsError"
    assert "no-such-profile" in doc["error"]["message"]
