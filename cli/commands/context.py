"""The one way a command opens a stack: a session, and the backend the stack name stands for."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cli.core.options import LOCAL_STACK
from cli.core.session import Session, open_session

if TYPE_CHECKING:
    from cli.backend import Backend

__all__ = ["Session", "backend_for", "local_stack_changed", "open_session", "open_stack"]


def backend_for(stack: str, project_dir: Path) -> Backend:
    """The local stack, or a cloud stack with validated settings; the only place that tells the two apart."""
    if stack == LOCAL_STACK:
        from cli.local.backend import LocalBackend

        return LocalBackend(project_dir)
    from cli.cloud.backend import CloudBackend
    from cli.core.stack_ref import resolve_stack_ref

    return CloudBackend(resolve_stack_ref(stack, project_dir))


def open_stack(stack: str, *, as_json: bool, local_only: bool = False) -> tuple[Session, Backend]:
    """A session plus the stack's backend; the commands call its verbs the same way whichever it is.

    `local_only` marks a verb only the local stack serves, so a stack without a file is told to use that one.
    """
    session = open_session(as_json=as_json)
    if local_only and stack != LOCAL_STACK:
        from cli.core.project import stack_config_path
        from cli.core.stack_ref import check_stack_name, missing_stack_file

        check_stack_name(stack)
        if not stack_config_path(session.project_dir, stack).is_file():
            raise missing_stack_file(stack, session.project_dir, serves_only=LOCAL_STACK)
    return session, backend_for(stack, session.project_dir)


def local_stack_changed(project_dir: Path) -> float | None:
    """When the local stack's state last changed (epoch seconds); None when it is not up. The local stack has no
    state in the cloud backend, so `infra stacks` asks here; OSError when where it lives cannot be worked out."""
    from cli.local.stack import stack_for

    state_file = stack_for(project_dir).root / "state.json"
    return state_file.stat().st_mtime if state_file.is_file() else None
