"""Where the Pulumi project lives and which stack configuration files it has."""

from __future__ import annotations

import os
from pathlib import Path

from cli.core.errors import ConfigError

PROJECT_DIR_ENV = "INFRA_PROJECT_DIR"
"""Overrides the project directory (the one holding Pulumi.yaml)."""


def find_project_dir(start: Path | None = None) -> Path:
    """The directory with Pulumi.yaml: $INFRA_PROJECT_DIR, the nearest above `start`, or the package's."""
    override = os.environ.get(PROJECT_DIR_ENV)
    if override:
        path = Path(override).expanduser().resolve()
        if not (path / "Pulumi.yaml").is_file():
            raise ConfigError(
                f"{PROJECT_DIR_ENV}={override} has no Pulumi.yaml",
                hint=f"point {PROJECT_DIR_ENV} at the repository root, or unset it",
            )
        return path
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file() and (candidate / "stacks").is_dir():
            return candidate
    packaged = Path(__file__).resolve().parents[2]
    if (packaged / "Pulumi.yaml").is_file():
        return packaged
    raise ConfigError(
        "cannot find the groundwork project (a directory with Pulumi.yaml and stacks/)",
        hint=f"run infra from inside the repository, or set {PROJECT_DIR_ENV}",
    )


def stack_config_path(project_dir: Path, stack: str) -> Path:
    """The path of a stack's configuration file, whether or not it exists."""
    return project_dir / f"Pulumi.{stack}.yaml"


def configured_stacks(project_dir: Path) -> list[str]:
    """Names of the stacks that have a `Pulumi.<stack>.yaml`, sorted."""
    names = []
    for path in project_dir.glob("Pulumi.*.yaml"):
        name = path.name[len("Pulumi.") : -len(".yaml")]
        if name:
            names.append(name)
    return sorted(names)
