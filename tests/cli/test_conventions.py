"""CLI conventions shared with its peers: --version, shell completion, and usage errors as JSON under --json."""

from __future__ import annotations

import json
import tomllib
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.cli.conftest import REPO


def test_version_comes_from_the_package_metadata_which_comes_from_pyproject(infra):
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    result = infra("--version", code=0)
    assert result.stdout == f"infra {version('groundwork')}\n"
    assert version("groundwork") == declared


def test_completion_script_is_offered_for_each_shell(monkeypatch):
    # Typer's switch that takes the shell as the option's value instead of detecting the parent shell.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    runner = CliRunner()
    for shell, marker in (
        ("bash", "complete -o default -F _infra_completion infra"),
        ("zsh", "compdef"),
        ("fish", "complete --command infra"),
    ):
        result = runner.invoke(app, ["--show-completion", shell], prog_name="infra")
        assert result.exit_code == 0, result.output
        assert marker in result.stdout
        assert "_INFRA_COMPLETE" in result.stdout


def test_completion_completes_commands_and_options(monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("_INFRA_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "infra preview --sk")
    monkeypatch.setenv("COMP_CWORD", "2")
    result = runner.invoke(app, [], prog_name="infra")
    assert result.stdout.split() == ["--skip-policy"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["preview", "--bogus"], "No such option: --bogus"),
        (["bogus"], "No such command 'bogus'"),
        (["policy", "--stack"], "Option '--stack' requires an argument"),
        (["--bogus"], "No such option: --bogus"),
    ],
)
def test_usage_errors_are_the_json_error_document_under_json(infra, argv, message):
    result = infra(*argv[:1], "--json", *argv[1:], code=2)
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert doc["error"]["kind"] == "UsageError"
    assert message in doc["error"]["message"]
    assert doc["error"]["exit_code"] == 2
    assert "--help" in doc["error"]["hint"]
    assert message in result.stderr


def test_usage_errors_without_json_stay_clicks_text(infra):
    result = infra("preview", "--bogus", code=2)
    assert result.stdout == ""
    assert "No such option: --bogus" in result.stderr
    assert "Try 'infra preview --help' for help." in result.stderr


def test_json_after_a_double_dash_is_an_argument_not_the_flag(infra):
    result = infra("preview", "--", "--json", code=2)
    assert result.stdout == ""
