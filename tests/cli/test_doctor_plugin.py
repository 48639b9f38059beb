"""`infra doctor` checks the Session Manager plugin that `infra up` starts for the tunnel to the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.cloud import doctor


def _exe(bin_dir: Path, body: str) -> None:
    path = bin_dir / "session-manager-plugin"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "bin"
    path.mkdir()
    monkeypatch.setenv("PATH", str(path))
    return path


def _objects_on(project: Path) -> None:
    for name in ("Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        path = project / name
        path.write_text(path.read_text().replace("databaseObjects: false", "databaseObjects: true"))


def test_the_stacks_that_tunnel_are_found(project):
    assert doctor.tunnel_stacks(project) == []
    _objects_on(project)
    assert doctor.tunnel_stacks(project) == ["dev", "prod"]


def test_a_missing_plugin_fails_when_a_stack_needs_it_and_says_how_to_install(bin_dir):
    check = doctor.check_session_manager_plugin(["dev", "prod"])
    assert check.ok is False
    assert "dev, prod" in check.detail
    assert "brew install --cask session-manager-plugin" in check.hint
    assert "ssm:StartSession" in check.hint


def test_a_missing_plugin_is_fine_when_no_stack_needs_it(bin_dir):
    assert doctor.check_session_manager_plugin([]).ok is True


def test_an_installed_plugin_reports_its_version(bin_dir):
    _exe(bin_dir, 'if [ "$1" = --version ]; then echo 1.2.707.0; else exit 1; fi')
    check = doctor.check_session_manager_plugin(["dev"])
    assert check.ok is True
    assert check.detail.startswith("version 1.2.707.0 at ")
    assert "(used by dev)" in check.detail


def test_a_plugin_that_prints_no_version_fails(bin_dir):
    _exe(bin_dir, "echo 'segmentation fault' >&2; exit 139")
    check = doctor.check_session_manager_plugin(["dev"])
    assert check.ok is False
    assert "did not print a version" in check.detail


def test_doctor_shows_the_row(infra, project, bin_dir):
    _objects_on(project)
    doc = infra.json("doctor", code=2)
    row = {c["check"]: c for c in doc["checks"]}["Session Manager plugin"]
    assert row["ok"] is False
    assert "session-manager-plugin" in row["hint"]
