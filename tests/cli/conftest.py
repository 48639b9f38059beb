"""Fixtures for the CLI tests: a project directory, the fake engine wired into the CLI, and a runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.cloud import engine as engine_module
from cli.core import render
from cli.main import app
from tests.cli.fakes import FakeEngine

REPO = Path(__file__).resolve().parents[2]


OBJECTS_ON = "groundwork:databaseObjects: true"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's Pulumi.yaml and stack files; the CLI is pointed at it.

    The copies switch the database objects off, so the commands' own tests need no tunnel to the database;
    tests/cli/test_tunnel_flow.py drives the committed files, objects and tunnel included.
    """
    root = tmp_path / "project"
    root.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        text = (REPO / name).read_text()
        (root / name).write_text(text.replace(OBJECTS_ON, "groundwork:databaseObjects: false"))
    monkeypatch.setenv("INFRA_PROJECT_DIR", str(root))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    monkeypatch.delenv("INFRA_SECRETS_PROVIDER", raising=False)
    return root


@pytest.fixture
def fake(project: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    engine = FakeEngine(project)
    monkeypatch.setattr(engine_module, "create_engine", lambda project_dir: engine)
    return engine


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the CLI believe a person is at the keyboard (stdin is a terminal)."""
    monkeypatch.setattr(render, "stdin_is_terminal", lambda: True)


class Infra:
    """Runs `infra` in-process with stdout and stderr kept apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, code: int | None = None) -> Any:
        result = self.runner.invoke(app, list(args), input=input)
        if code is not None:
            assert result.exit_code == code, (
                f"infra {' '.join(args)} exited {result.exit_code}, expected {code}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\nexception: {result.exception!r}"
            )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def json(self, *args: str, code: int = 0, input: str | None = None) -> dict[str, Any]:
        result = self(*args, "--json", input=input, code=code)
        return json.loads(result.stdout)


@pytest.fixture
def infra() -> Infra:
    return Infra()
