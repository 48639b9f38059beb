"""The `infra` entry point: help, exit codes, the local target, start-up imports and a missing Pulumi CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import REPO

COMMANDS = ["preview", "up", "destroy", "refresh", "outputs", "stacks", "doctor", "status", "logs", "dashboard"]
CLOUD_ONLY_COMMANDS = ["refresh"]
LOCAL_ONLY_COMMANDS = ["status", "logs", "dashboard"]


def test_root_help_documents_commands_and_exit_codes(infra):
    result = infra("--help", code=0)
    for command in COMMANDS:
        assert command in result.stdout
    for text in ("0 ok", "1 operation failed", "2 usage or configuration error", "3 changes present", "4 stack busy"):
        assert text in " ".join(result.stdout.split())


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(infra, command):
    result = infra(command, "--help", code=0)
    assert "--json" in result.stdout
    assert "Exit codes" in result.stdout


@pytest.mark.parametrize("command", CLOUD_ONLY_COMMANDS)
def test_cloud_only_commands_refuse_the_local_stack(infra, fake, command):
    result = infra(command, code=2)
    assert "works on cloud stacks" in result.stderr
    assert "--stack dev" in result.stderr
    assert fake.calls == []


@pytest.mark.parametrize("command", CLOUD_ONLY_COMMANDS)
def test_cloud_only_local_refusal_as_json(infra, fake, command):
    doc = infra.json(command, "--stack", "local", code=2)
    assert doc["ok"] is False
    assert doc["error"]["kind"] == "NotAvailable"


@pytest.mark.parametrize("command", LOCAL_ONLY_COMMANDS)
def test_local_only_commands_refuse_a_cloud_stack(infra, fake, command):
    doc = infra.json(command, "--stack", "dev", code=2)
    assert doc["error"]["kind"] == "NotAvailable"
    assert "local stack" in doc["error"]["message"]
    assert fake.calls == []


def test_unknown_option_is_a_usage_error(infra):
    infra("preview", "--no-such-option", code=2)


def test_short_h_is_help(infra):
    assert "Exit codes" in infra("-h", code=0).stdout
    assert "--out" in infra("plan", "-h", code=0).stdout


def test_suggestions_name_only_options_like_the_one_typed(infra):
    assert "Did you mean" not in infra("plan", "--bogus", code=2).stderr
    assert "--stack" in infra("plan", "--stak", code=2).stderr.split("Did you mean")[-1]


@pytest.mark.parametrize("command", LOCAL_ONLY_COMMANDS)
def test_a_local_only_command_on_a_stack_without_a_file_names_local(infra, fake, command):
    doc = infra.json(command, "--stack", "nope", code=2)
    assert doc["error"]["message"] == "stack 'nope' has no configuration file (Pulumi.nope.yaml)"
    assert "--stack local" in doc["error"]["hint"]
    assert "dev" not in doc["error"]["hint"]


def test_one_message_for_a_missing_stack_file(infra, fake):
    messages = {
        infra.json(*args, code=2)["error"]["message"]
        for args in (("plan", "--stack", "staging"), ("up", "--stack", "staging"), ("preview", "--stack", "staging"))
    }
    assert messages == {"stack 'staging' has no configuration file (Pulumi.staging.yaml)"}


def test_unexpected_errors_are_reported_without_a_traceback(infra, fake, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr(fake, "outputs", broken)
    result = infra("outputs", "--stack", "dev", code=1)
    assert "unexpected internal error: KeyError" in result.stderr
    assert "INFRA_DEBUG=1" in result.stderr


def test_importing_the_cli_does_not_import_pulumi_boto3_or_httpx():
    code = (
        "import sys, cli.main\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'pulumi', 'pulumi_aws', 'boto3', 'botocore', 'httpx', 'grpc', 'stacks'})\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("argv", [["--help"], ["up", "--help"], ["destroy", "--help"], ["doctor", "--help"]])
def test_help_loads_nothing_heavy(argv):
    code = (
        "import sys\n"
        "from cli.main import app\n"
        f"sys.argv = ['infra', *{argv!r}]\n"
        "try:\n    app(prog_name='infra')\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pulumi', 'boto3', 'botocore', 'httpx', 'pydantic', 'yaml', 'stacks'})\n"
        "print(heavy, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stderr.strip() == "[]"
    assert "Usage: infra" in out.stdout


def _bare_env(project: Path, path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "AWS_", "INFRA_"))}
    env.update(
        PATH=str(path),
        INFRA_PROJECT_DIR=str(project),
        PULUMI_CONFIG_PASSPHRASE="test",
        PYTHONPATH=str(REPO),
    )
    return env


@pytest.mark.parametrize(
    "args",
    [
        ["preview", "--stack", "dev"],
        ["up", "--stack", "dev", "--yes"],
        ["destroy", "--stack", "prod", "--confirm-stack", "prod"],
        ["refresh", "--stack", "dev"],
        ["outputs", "--stack", "dev"],
    ],
)
def test_missing_pulumi_cli_is_one_clear_error(project, tmp_path, args):
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=_bare_env(project, empty_bin),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "the Pulumi CLI is not installed" in proc.stderr
    assert "https://www.pulumi.com/docs/install/" in proc.stderr
    assert proc.stdout == ""
    assert not (project / ".infra").exists()


def test_missing_pulumi_cli_json(project, tmp_path):
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "preview", "--stack", "dev", "--json"],
        env=_bare_env(project, empty_bin),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert doc["error"]["kind"] == "PulumiMissing"
    assert "report" not in doc
    assert "get.pulumi.com" in doc["error"]["hint"]


def test_console_script_reports_the_missing_cli(project, tmp_path):
    script = Path(sys.executable).parent / "infra"
    if not script.exists():
        pytest.skip("the infra console script is not installed (pip install -e .)")
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    proc = subprocess.run(
        [str(script), "preview", "--stack", "dev"],
        env=_bare_env(project, empty_bin),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "the Pulumi CLI is not installed" in proc.stderr
