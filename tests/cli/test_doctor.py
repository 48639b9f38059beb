"""`infra doctor`: each prerequisite checked for real (fake executables on PATH, moto for AWS)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from cli.cloud import doctor

DOCKER_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"


def _exe(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path, monkeypatch) -> Path:
    """A PATH with only what each test puts there."""
    path = tmp_path / "bin"
    path.mkdir()
    monkeypatch.setenv("PATH", str(path))
    return path


@pytest.fixture
def healthy(bin_dir, monkeypatch):
    _exe(bin_dir, "pulumi", 'if [ "$1" = version ]; then echo v3.201.0; else exit 1; fi')
    _exe(bin_dir, "docker", 'if [ "$1" = info ]; then echo 27.3.1; else exit 1; fi')
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield bin_dir


@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _rows(doc):
    return {c["check"]: c for c in doc["checks"]}


def test_all_green(infra, project, healthy):
    doc = infra.json("doctor")
    rows = _rows(doc)
    assert doc["ok"] is True
    assert rows["Pulumi CLI"]["detail"].startswith("version 3.201.0")
    assert ".infra/state" in rows["State backend"]["detail"]
    assert "will be created" in rows["State backend"]["detail"]
    assert rows["Secrets"]["detail"] == "passphrase from PULUMI_CONFIG_PASSPHRASE (value not shown)"
    assert rows["AWS credentials"]["detail"].startswith("account 123456789012")
    assert rows["Docker"]["detail"] == "daemon 27.3.1"
    assert rows["Stack settings: dev"]["ok"]
    assert rows["Stack settings: prod"]["ok"]
    assert "protected" in rows["Stack settings: prod"]["detail"]


def test_table_is_printed_to_stdout_and_the_scope_to_stderr(infra, project, healthy):
    result = infra("doctor", code=0)
    assert "Pulumi CLI" in result.stdout
    assert "ok" in result.stdout
    assert "infra doctor --stack local" in result.stderr


def test_json_names_the_failed_rows_it_does_not_show_a_table_for(infra, project, bin_dir, no_aws_credentials):
    result = infra("doctor", "--json", code=2)
    doc = json.loads(result.stdout)
    failed = [row["check"] for row in doc["failed"]]
    assert "Pulumi CLI" in failed
    assert "AWS credentials" in failed
    assert "above" not in result.stderr
    assert "details.failed" in result.stderr


def test_doctor_for_a_cloud_stack_runs_the_cloud_checks(infra, project, healthy):
    rows = _rows(infra.json("doctor", "--stack", "dev"))
    assert rows["Pulumi CLI"]["ok"] is True


def test_nothing_installed_fails_with_a_fix_per_row(infra, project, bin_dir, no_aws_credentials, monkeypatch):
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    doc = infra.json("doctor", code=2)
    rows = _rows(doc)
    assert doc["error"]["kind"] == "ConfigError"
    for name in ("Pulumi CLI", "Secrets", "AWS credentials", "Docker"):
        assert rows[name]["ok"] is False, name
        assert rows[name]["hint"], name
    assert "get.pulumi.com" in rows["Pulumi CLI"]["hint"]
    assert rows["AWS credentials"]["detail"] == "no AWS credentials found"
    assert rows["Docker"]["detail"] == "`docker` is not on PATH"
    assert rows["State backend"]["ok"] is True


def test_docker_client_without_a_daemon_is_not_enough(bin_dir):
    _exe(bin_dir, "docker", f'echo "{DOCKER_DOWN}" >&2; exit 1')
    check = doctor.check_docker()
    assert not check.ok
    assert DOCKER_DOWN in check.detail
    assert "start the Docker daemon" in check.hint


def test_old_pulumi_is_reported(bin_dir):
    _exe(bin_dir, "pulumi", "echo v2.25.2")
    check = doctor.check_pulumi()
    assert not check.ok
    assert "2.25.2" in check.detail


def test_broken_pulumi_is_reported(bin_dir):
    _exe(bin_dir, "pulumi", "echo 'segfault' >&2; exit 139")
    check = doctor.check_pulumi()
    assert not check.ok
    assert "segfault" in check.detail


def test_rejected_aws_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREVOKED")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nope")
    from botocore.exceptions import ClientError

    def reject(self, *args, **kwargs):
        raise ClientError({"Error": {"Code": "InvalidClientTokenId", "Message": "bad"}}, "GetCallerIdentity")

    monkeypatch.setattr("botocore.client.BaseClient._make_api_call", reject)
    check = doctor.check_aws("eu-west-1")
    assert not check.ok
    assert "InvalidClientTokenId" in check.detail


def test_backend_path_under_a_file_is_not_writable(project, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    check = doctor.check_backend(project, {"PULUMI_BACKEND_URL": f"file://{blocker}/state"})
    assert not check.ok
    assert "PULUMI_BACKEND_URL" in check.detail


def test_existing_backend_directory_is_written_to(project, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    check = doctor.check_backend(project, {"PULUMI_BACKEND_URL": f"file://{state}"})
    assert check.ok
    assert "(writable)" in check.detail
    assert list(state.iterdir()) == []


def test_s3_backend_bucket_is_checked(project, healthy):
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="team-state", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert doctor.check_backend(project, {"PULUMI_BACKEND_URL": "s3://team-state/groundwork"}).ok
    missing = doctor.check_backend(project, {"PULUMI_BACKEND_URL": "s3://no-such-bucket"})
    assert not missing.ok
    assert "no-such-bucket" in missing.detail


@pytest.mark.parametrize(("url", "ok"), [("garbage", False), ("ftp://state", False), ("gs://team-state", True)])
def test_a_backend_url_pulumi_cannot_use_fails_its_row(project, url, ok):
    check = doctor.check_backend(project, {"PULUMI_BACKEND_URL": url})
    assert check.ok is ok
    if not ok:
        assert "is not a Pulumi state backend URL" in check.detail
        assert "s3://" in check.hint


def test_kms_provider_satisfies_the_secrets_check(project):
    check = doctor.check_secrets(project, {"INFRA_SECRETS_PROVIDER": "awskms://alias/groundwork"})
    assert check.ok
    bad = doctor.check_secrets(project, {"INFRA_SECRETS_PROVIDER": "passphrase"})
    assert not bad.ok


def test_passphrase_file_must_be_readable(project, tmp_path):
    assert not doctor.check_secrets(project, {"PULUMI_CONFIG_PASSPHRASE_FILE": str(tmp_path / "missing")}).ok
    secret_file = tmp_path / "passphrase"
    secret_file.write_text("correct horse")
    check = doctor.check_secrets(project, {"PULUMI_CONFIG_PASSPHRASE_FILE": str(secret_file)})
    assert check.ok
    assert "correct horse" not in check.detail


def test_passphrase_value_is_never_shown(infra, project, healthy, monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "hunter2-do-not-print")
    result = infra("doctor", "--json", code=0)
    assert "hunter2-do-not-print" not in result.stdout + result.stderr


def test_invalid_stack_settings_fail_their_row(infra, project, healthy):
    config = project / "Pulumi.prod.yaml"
    config.write_text(config.read_text().replace("groundwork:protect: true", "groundwork:protect: maybe"))
    doc = infra.json("doctor", code=2)
    rows = _rows(doc)
    assert rows["Stack settings: dev"]["ok"] is True
    assert rows["Stack settings: prod"]["ok"] is False
    assert "protect" in rows["Stack settings: prod"]["detail"]
    assert "Pulumi.prod.yaml" in rows["Stack settings: prod"]["hint"]


def test_a_stack_file_that_is_not_utf8_fails_its_row(infra, project, healthy):
    (project / "Pulumi.bad.yaml").write_bytes(b"config:\n  groundwork:domain: ex\xffample.com\n")
    rows = _rows(infra.json("doctor", code=2))
    assert rows["Stack settings: bad"]["ok"] is False
    assert "UTF-8" in rows["Stack settings: bad"]["detail"]
    assert rows["Stack settings: dev"]["ok"] is True
