"""The Automation API seam: backend and secrets resolution, pre-flight checks, error mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi.automation import LocalWorkspaceOptions
from pulumi.automation import errors as auto_errors
from pulumi.automation._cmd import CommandResult

from cli.cloud.engine import AutomationEngine, classify_command_error, require_pulumi_cli, translate_errors
from cli.cloud.state_backend import resolve_backend
from cli.core.errors import (
    CredentialsError,
    ExitCode,
    OperationFailed,
    PulumiMissing,
    SecretsError,
    StackBusy,
    StackNotFound,
)


def _raise_inside(error: BaseException, stack: str = "dev"):
    with translate_errors(stack):
        raise error


@pytest.mark.parametrize(
    ("error", "expected", "code"),
    [
        (
            auto_errors.ConcurrentUpdateError(CommandResult("", "the stack is currently locked by 1 lock(s)", 255)),
            StackBusy,
            ExitCode.BUSY,
        ),
        (
            auto_errors.StackNotFoundError(CommandResult("", "no stack named 'dev' found", 255)),
            StackNotFound,
            ExitCode.USAGE,
        ),
        (auto_errors.InvalidVersionError("Minimum version requirement failed"), PulumiMissing, ExitCode.USAGE),
        (FileNotFoundError(2, "No such file or directory", "pulumi"), PulumiMissing, ExitCode.USAGE),
    ],
)
def test_automation_errors_map_onto_the_hierarchy(error, expected, code):
    with pytest.raises(expected) as caught:
        _raise_inside(error)
    assert caught.value.exit_code == code
    assert caught.value.hint


def test_unrelated_file_errors_are_not_mistaken_for_a_missing_cli():
    with pytest.raises(FileNotFoundError):
        _raise_inside(FileNotFoundError(2, "No such file", "/tmp/state.json"))


@pytest.mark.parametrize(
    "stderr",
    [
        "error: No valid credential sources found for AWS Provider.",
        "error: operation error STS: GetCallerIdentity, https response error StatusCode: 403, ExpiredToken",
        "error: InvalidClientTokenId: The security token included in the request is invalid.",
    ],
)
def test_credential_failures_get_a_sign_in_hint(stderr):
    error = classify_command_error(f"\n code: 255\n stdout: \n stderr: {stderr}", "dev")
    assert isinstance(error, CredentialsError)
    assert error.exit_code == ExitCode.USAGE
    assert "aws sso login" in error.hint


def test_passphrase_failures_point_at_the_secrets_setup():
    error = classify_command_error("error: getting secrets manager: incorrect passphrase", "prod")
    assert isinstance(error, SecretsError)
    assert "PULUMI_CONFIG_PASSPHRASE" in error.hint


def test_other_failures_keep_the_engine_error_lines():
    text = "stdout: Updating (dev)\n\nstderr: error: update failed\nerror: 2 errors occurred\nerror: update failed\n"
    error = classify_command_error(text, "dev")
    assert type(error) is OperationFailed
    assert error.message == "dev: update failed; 2 errors occurred"


def test_require_pulumi_cli_without_pulumi_on_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PulumiMissing) as caught:
        require_pulumi_cli()
    assert "get.pulumi.com" in caught.value.hint


@pytest.fixture
def fake_pulumi_on_path(tmp_path, monkeypatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pulumi = bin_dir / "pulumi"
    pulumi.write_text("#!/bin/sh\necho v3.200.0\n")
    pulumi.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def test_default_backend_is_a_directory_inside_the_project(tmp_path, fake_pulumi_on_path):
    engine = AutomationEngine(tmp_path, env={"PULUMI_CONFIG_PASSPHRASE": "x"})
    assert engine.backend.url == f"file://{tmp_path}/.infra/state"
    engine._prepare("dev")
    assert (tmp_path / ".infra" / "state").is_dir()
    options = engine._options()
    assert isinstance(options, LocalWorkspaceOptions)
    assert options.work_dir == str(tmp_path)
    assert options.env_vars["PULUMI_BACKEND_URL"] == engine.backend.url
    assert options.secrets_provider is None


def test_backend_url_and_kms_provider_overrides_are_honoured(tmp_path, fake_pulumi_on_path):
    env = {"PULUMI_BACKEND_URL": "s3://team-state/groundwork", "INFRA_SECRETS_PROVIDER": "awskms://alias/groundwork"}
    engine = AutomationEngine(tmp_path, env=env)
    engine._prepare("prod")
    options = engine._options()
    assert options.env_vars["PULUMI_BACKEND_URL"] == "s3://team-state/groundwork"
    assert options.secrets_provider == "awskms://alias/groundwork"
    assert not (tmp_path / ".infra").exists()


def test_a_passphrase_stack_without_a_passphrase_is_refused_before_pulumi_runs(tmp_path, fake_pulumi_on_path):
    engine = AutomationEngine(tmp_path, env={})
    with pytest.raises(SecretsError) as caught:
        engine._prepare("dev")
    assert "PULUMI_CONFIG_PASSPHRASE" in caught.value.hint


def test_a_stack_file_naming_a_kms_provider_needs_no_passphrase(tmp_path, fake_pulumi_on_path):
    (tmp_path / "Pulumi.prod.yaml").write_text("secretsprovider: awskms://alias/groundwork\nconfig: {}\n")
    AutomationEngine(tmp_path, env={})._prepare("prod")


def test_pulumi_cloud_needs_no_passphrase(tmp_path, fake_pulumi_on_path):
    AutomationEngine(tmp_path, env={"PULUMI_BACKEND_URL": "https://api.pulumi.com"})._prepare("dev")


def test_engine_refuses_to_start_without_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    engine = AutomationEngine(tmp_path, env={"PULUMI_CONFIG_PASSPHRASE": "x"})
    with pytest.raises(PulumiMissing):
        engine.preview("dev", lambda event: None)
    with pytest.raises(PulumiMissing):
        engine.list_stacks()


def test_relative_file_backend_is_resolved_against_the_project(tmp_path, fake_pulumi_on_path):
    engine = AutomationEngine(tmp_path, env={"PULUMI_BACKEND_URL": "file://state-here", "PULUMI_CONFIG_PASSPHRASE": ""})
    engine._prepare("dev")
    assert (tmp_path / "state-here").is_dir()
    assert resolve_backend(tmp_path, {}).source.startswith("default")
