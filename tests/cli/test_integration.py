"""Preview, up (both phases, through the SSM tunnel), smoke, outputs and destroy of a throwaway stack on real AWS."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from stacks import outputs as names
from tests.cli.conftest import REPO

OPT_IN = "INFRA_INTEGRATION"
CONFIG = "INFRA_INTEGRATION_CONFIG"


def _why_skip() -> str | None:
    if shutil.which("pulumi") is None:
        return "needs the Pulumi CLI on PATH"
    import boto3

    if boto3.session.Session().get_credentials() is None:
        return "needs AWS credentials"
    if os.environ.get(OPT_IN) != "1":
        return f"creates real AWS resources (costs money, ~20 min); set {OPT_IN}=1 to run it"
    return None


pytestmark = [pytest.mark.integration, pytest.mark.skipif(_why_skip() is not None, reason=str(_why_skip()))]


@pytest.fixture
def throwaway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new stack with dev's settings (or $INFRA_INTEGRATION_CONFIG), state in a temporary backend."""
    stack = f"it-{secrets.token_hex(3)}"
    config = REPO / f"Pulumi.{stack}.yaml"
    shutil.copy(os.environ.get(CONFIG) or REPO / "Pulumi.dev.yaml", config)
    monkeypatch.setenv("INFRA_PROJECT_DIR", str(REPO))
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path / 'state'}")
    if "PULUMI_CONFIG_PASSPHRASE" not in os.environ and "PULUMI_CONFIG_PASSPHRASE_FILE" not in os.environ:
        monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", secrets.token_urlsafe(16))
    try:
        yield stack
    finally:
        runner = CliRunner()
        runner.invoke(app, ["destroy", "--stack", stack, "--confirm-stack", stack, "--json"])
        from pulumi import automation as auto

        try:
            auto.select_stack(stack_name=stack, work_dir=str(REPO)).workspace.remove_stack(stack)
        finally:
            config.unlink(missing_ok=True)


def _run(*args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, f"infra {' '.join(args)}: {result.exit_code}\n{result.stderr}\n{result.stdout}"
    return json.loads(result.stdout)


def test_preview_up_outputs_destroy(throwaway):
    stack = throwaway
    plan = _run("preview", "--stack", stack)
    assert plan["changes_present"] is True
    assert plan["counts"]["create"] > 0

    applied = _run("up", "--stack", stack, "--yes")
    assert applied["applied"]["failed"] == []
    assert applied["outputs"][names.SERVICE_URL].startswith("https://")
    assert [phase["phase"] for phase in applied["phases"]] == ["infrastructure", "database objects"]
    assert applied["outputs"][names.DATABASE_OBJECTS] is True

    smoke = _run("smoke", "--stack", stack)
    assert smoke["smoke"]["passed"] is True

    shown = _run("outputs", "--stack", stack)
    assert names.DATABASE_ENDPOINT in shown["outputs"]
    for hidden in shown["secrets_hidden"]:
        assert shown["outputs"][hidden] == "[secret]"

    again = _run("preview", "--stack", stack)
    assert again["changes_present"] is False

    gone = _run("destroy", "--stack", stack, "--yes")
    assert gone["destroyed"]
    assert _run("outputs", "--stack", stack)["outputs"] == {}
