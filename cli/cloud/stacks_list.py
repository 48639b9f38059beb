"""The stacks that have files, with what a state backend knows of them when the Pulumi CLI is there to ask."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.core.errors import PulumiMissing
from cli.core.options import LOCAL_STACK
from cli.core.project import configured_stacks

if TYPE_CHECKING:
    from cli.cloud.engine import Engine


@dataclass(frozen=True)
class StackRow:
    """A stack as `infra stacks` shows it: configured in the repository, deployed in the backend, or both."""

    name: str
    configured: bool
    deployed: bool | None
    """None when the backend could not be asked (no Pulumi CLI); the local stack has no state there (`infra stacks`
    reads it from the stack's own files)."""
    last_update: str | None
    resource_count: int | None
    update_in_progress: bool | None

    @property
    def needs_pulumi(self) -> bool:
        """Deploying it needs the Pulumi CLI (every stack but the local one, which runs on this machine)."""
        return self.name != LOCAL_STACK

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "configured": self.configured,
            "needs_pulumi": self.needs_pulumi,
            "deployed": self.deployed,
            "last_update": self.last_update,
            "resource_count": self.resource_count,
            "update_in_progress": self.update_in_progress,
        }


def list_stacks(engine: Engine, project_dir: Path) -> tuple[list[StackRow], PulumiMissing | None]:
    """Every stack that has a file, plus those only the backend knows; and why the backend was not asked, if so.

    Without the Pulumi CLI the rows come from the files alone (`deployed` unknown) and the error says how to install it.
    """
    try:
        known = {info.name.rsplit("/", 1)[-1]: info for info in engine.list_stacks()}
        missing = None
    except PulumiMissing as error:
        known, missing = {}, error
    names = sorted(set(known) | set(configured_stacks(project_dir)))
    configured = set(configured_stacks(project_dir))
    rows = []
    for name in names:
        info = known.get(name)
        rows.append(
            StackRow(
                name=name,
                configured=name in configured,
                deployed=None if missing is not None or name == LOCAL_STACK else info is not None,
                last_update=info.last_update.isoformat() if info and info.last_update else None,
                resource_count=info.resource_count if info else None,
                update_in_progress=info.update_in_progress if info else None,
            )
        )
    return rows, missing
