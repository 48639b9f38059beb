"""The one way a command opens a stack: a session, and the backend the stack name stands for."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cli.core.options import LOCAL_STACK
from cli.core.session import Session, open_session

if TYPE_CHECKING:
    from cli.backend import Backend

__all__ = ["Session", "backend_for", "open_session", "open_stack"]


def backend_for(stack: str, project_dir: Path) -> Backend:
    """The local stack, or a cloud stack with validated settings; the only place that tells the two apart."""
    if stack == LOCAL_STACK:
        from cli.local.backend import LocalBackend

        return LocalBackend(project_dir)
    from cli.cloud.backend import CloudBackend
    from cli.core.stack_ref import resolve_stack_ref

    return CloudBackend(resolve_stack_ref(stack, project_dir))


def open_stack(stack: str, *, as_json: bool) -> tuple[Session, Backend]:
    """A session plus the stack's backend; the commands call its verbs the same way whichever it is."""
    session = open_session(as_json=as_json)
    return session, backend_for(stack, session.project_dir)
