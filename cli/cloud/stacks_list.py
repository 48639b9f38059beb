"""The stacks a state backend knows, with the configured ones that were never deployed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.core.project import configured_stacks

if TYPE_CHECKING:
    from cli.cloud.engine import Engine


@dataclass(frozen=True)
class StackRow:
    """A stack as `infra stacks` shows it: configured in the repository, deployed in the backend, or both."""

    name: str
    configured: bool
    deployed: bool
    last_update: str | None
    resource_count: int | None
    update_in_progress: bool | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "configured": self.configured,
            "deployed": self.deployed,
            "last_update": self.last_update,
            "resource_count": self.resource_count,
            "update_in_progress": self.update_in_progress,
        }


def list_stacks(engine: Engine, project_dir: Path) -> list[StackRow]:
    """Every stack the backend knows, plus the configured ones that were never deployed."""
    known = {info.name.rsplit("/", 1)[-1]: info for info in engine.list_stacks()}
    names = sorted(set(known) | set(configured_stacks(project_dir)))
    configured = set(configured_stacks(project_dir))
    rows = []
    for name in names:
        info = known.get(name)
        rows.append(
            StackRow(
                name=name,
                configured=name in configured,
                deployed=info is not None,
                last_update=info.last_update.isoformat() if info and info.last_update else None,
                resource_count=info.resource_count if info else None,
                update_in_progress=info.update_in_progress if info else None,
            )
        )
    return rows
