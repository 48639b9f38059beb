"""The local stack's release history: releases.json in the stack's directory, in the cloud's record shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli.core import releases
from cli.core.files import write_private


def history_file(root: Path) -> Path:
    return root / "releases.json"


def load(root: Path) -> list[releases.Release]:
    path = history_file(root)
    return releases.parse_history(path.read_text(), str(path)) if path.is_file() else []


def record(
    root: Path, project_dir: Path, api_fingerprint: str, outcome: str, *, image: str | None = None, **extra: Any
) -> releases.Release:
    """Append a release of the API: the content tag of its sources (`image`, the project's by default), its
    command and environment's digest, the stack file's digest."""
    from stacks.content_tag import content_tag

    history = load(root)
    stack_file = project_dir / "Pulumi.local.yaml"
    release = releases.new_release(
        history,
        image=image or content_tag(project_dir / "app_image"),
        task_definition=api_fingerprint,
        settings=releases.settings_hash(stack_file.read_text() if stack_file.is_file() else ""),
        outcome=outcome,
        **extra,
    )
    write_private(history_file(root), releases.dump_history([*history, release]))
    return release


def replace(root: Path, changed: releases.Release) -> None:
    """Rewrite one release of the history (a promoted release that a rollback replaced)."""
    kept = [changed if r.id == changed.id else r for r in load(root)]
    write_private(history_file(root), releases.dump_history(kept))
