"""Run values reach Pulumi through `--config-file`, a temporary copy of the stack file; the stack file is untouched."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from cli.cloud.engine import AutomationEngine, run_config_file

VALUES = {"groundwork:databaseAdminHost": "127.0.0.1", "groundwork:databaseAdminPort": 15445}


class RecordingStack:
    """Stands in for an Automation API Stack: records each call and the config file as it was during the call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []

    def _record(self, name: str, kwargs: dict[str, Any]) -> Any:
        path = kwargs.get("config_file")
        seen = yaml.safe_load(Path(path).read_text()) if path else None
        self.calls.append((name, kwargs, seen))
        return SimpleNamespace(outputs={})

    def preview(self, **kwargs: Any) -> Any:
        return self._record("preview", kwargs)

    def up(self, **kwargs: Any) -> Any:
        return self._record("up", kwargs)

    def refresh(self, **kwargs: Any) -> Any:
        return self._record("refresh", kwargs)


def _engine(project: Path, monkeypatch) -> tuple[AutomationEngine, RecordingStack]:
    engine = AutomationEngine(project, env={"PULUMI_CONFIG_PASSPHRASE": "x"})
    stack = RecordingStack()
    monkeypatch.setattr(engine, "_prepare", lambda name: None)
    monkeypatch.setattr(engine, "_stack", lambda name, create: stack)
    return engine, stack


def test_the_copy_carries_the_values_and_the_rest_of_the_stack_file(project):
    original = (project / "Pulumi.dev.yaml").read_bytes()
    with run_config_file(project, "dev", VALUES) as path:
        assert path is not None
        copy = Path(path)
        document = yaml.safe_load(copy.read_text())
        assert copy.stat().st_mode & 0o777 == 0o600
        assert copy.parent != project
    config = document["config"]
    assert config["groundwork:databaseAdminPort"] == 15445
    assert config["groundwork:databaseAdminHost"] == "127.0.0.1"
    assert config["groundwork:domain"] == "example.com"
    assert config["aws:region"] == "eu-west-1"
    assert not copy.exists(), "the copy is deleted after the run"
    assert (project / "Pulumi.dev.yaml").read_bytes() == original


def test_a_value_replaces_the_one_in_the_stack_file(project):
    with run_config_file(project, "dev", {"groundwork:databaseObjects": True}) as path:
        text = Path(path).read_text()
    assert text.count("groundwork:databaseObjects") == 1
    assert "groundwork:databaseObjects: true" in text


def test_secure_values_are_copied_as_they_are(project):
    path = project / "Pulumi.dev.yaml"
    path.write_text(path.read_text() + "  groundwork:alarmEmail:\n    secure: v1:abc:def\nencryptionsalt: v1:salt\n")
    with run_config_file(project, "dev", VALUES) as copy:
        document = yaml.safe_load(Path(copy).read_text())
    assert document["config"]["groundwork:alarmEmail"] == {"secure": "v1:abc:def"}
    assert document["encryptionsalt"] == "v1:salt"


def test_without_values_no_file_is_made(project):
    with run_config_file(project, "dev", None) as path:
        assert path is None


def test_the_engine_passes_the_copy_to_preview_up_and_refresh(project, monkeypatch):
    engine, stack = _engine(project, monkeypatch)
    engine.preview("dev", lambda event: None, config=VALUES)
    engine.up("dev", lambda event: None, config=VALUES)
    engine.refresh("dev", lambda event: None, config=VALUES)
    engine.up("dev", lambda event: None)
    for name, kwargs, seen in stack.calls[:3]:
        assert seen["config"]["groundwork:databaseAdminPort"] == 15445, name
        assert not Path(kwargs["config_file"]).exists(), name
    assert stack.calls[2][1]["run_program"] is True, "refresh runs the program so the provider gets the run values"
    assert stack.calls[3][1]["config_file"] is None
    assert "databaseAdminPort" not in (project / "Pulumi.dev.yaml").read_text()
