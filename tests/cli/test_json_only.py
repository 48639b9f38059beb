"""Under --json every command writes its one JSON document to stdout and nothing to stderr but an error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from cli.main import app
from tests.harness import scratch_dir

REPO = Path(__file__).resolve().parents[2]

OFFLINE_CASES: dict[str, list[str]] = {
    "preview": ["--stack", "local"],
    "up": ["--stack", "local", "--verify"],
    "destroy": ["--stack", "local", "--yes"],
    "refresh": ["--stack", "local"],
    "outputs": ["--stack", "local"],
    "stacks": [],
    "doctor": ["--stack", "local"],
    "status": ["--stack", "local"],
    "logs": ["--stack", "local"],
    "dashboard": ["--stack", "local", "--once"],
    "smoke": ["--stack", "local"],
    "load": ["--stack", "local"],
    "verify": ["--stack", "local"],
    "plan": ["--stack", "dev"],
    "diff": ["--stack", "dev", "--base", "HEAD"],
    "policy": ["--stack", "dev"],
    "cost": ["--stack", "dev"],
    "restore": ["--stack", "local", "--into", "restored"],
    "drill": ["--stack", "local"],
    "token": ["--stack", "local", "--client"],
    "releases": ["--stack", "local"],
    "rollback": ["--stack", "local", "--yes"],
    "run": ["--stack", "local", "--", "true"],
}
"""For each command, arguments that need no cloud and no running local stack (it is never brought up here)."""


def commands_with_json() -> set[str]:
    """Every command of the root app that offers --json, read from the app itself."""
    group = typer.main.get_command(app)
    commands = getattr(group, "commands", {})
    return {
        name
        for name, command in commands.items()
        if any("--json" in getattr(param, "opts", []) for param in command.params)
    }


def test_every_command_with_json_has_an_offline_case():
    offered = commands_with_json()
    assert offered, "the app offers no --json at all"
    assert offered == set(OFFLINE_CASES), (
        f"commands without a case here: {sorted(offered - set(OFFLINE_CASES))}; "
        f"cases for commands that no longer offer --json: {sorted(set(OFFLINE_CASES) - offered)}"
    )


@pytest.fixture(scope="module")
def environment():
    """The repository's program, an empty local stack directory, and a state backend of its own; no cloud."""
    base = scratch_dir("groundwork-json-only-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_", "INFRA_"))}
    env.update(
        INFRA_PROJECT_DIR=str(REPO),
        INFRA_LOCAL_DIR=str(base / "stack"),
        PULUMI_BACKEND_URL=f"file://{base / 'state'}",
        PULUMI_CONFIG_PASSPHRASE="json-only-test",
        AWS_CONFIG_FILE=str(base / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(base / "no-aws-credentials"),
        COLUMNS="120",
    )
    (base / "state").mkdir()
    yield env
    subprocess.run([sys.executable, "-m", "cli", "destroy", "--stack", "local", "--yes"], env=env, cwd=REPO,
                   capture_output=True, timeout=120, check=False)  # fmt: skip
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("command", sorted(OFFLINE_CASES))
def test_json_is_the_only_output_but_an_error(command, environment):
    argv = [command, *OFFLINE_CASES[command]]
    # --json goes before any `--`, where the command's own arguments begin.
    cut = argv.index("--") if "--" in argv else len(argv)
    argv = [*argv[:cut], "--json", *argv[cut:]]
    result = subprocess.run(
        [sys.executable, "-m", "cli", *argv],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    shown = f"infra {' '.join(argv)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    try:
        document = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"stdout is not one JSON document\n{shown}")
    assert isinstance(document, dict), shown
    if result.returncode == 0:
        assert result.stderr == "", f"a success wrote to stderr\n{shown}"
        return
    assert document.get("ok") is False, shown
    error = document["error"]
    # An error is its message and its next step on stderr, and nothing more.
    lines = [f"error: {error['message']}", *([f"next: {error['hint']}"] if error.get("hint") else [])]
    written = " ".join(result.stderr.split())
    expected = " ".join(" ".join(lines).split())
    assert written == expected, f"stderr holds more than the error\n{shown}"
    print(f"infra {' '.join(argv)}: exit {result.returncode}, {error['kind']}")
