"""What every stack command needs: the project, the resolved target, a stderr console, and the engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from cli.engine import Engine
    from cli.target import CloudTarget, LocalTarget, Target


@dataclass
class Session:
    project_dir: Path
    console: Console
    spinner: bool
    interactive: bool

    def engine(self) -> Engine:
        from cli import engine

        return engine.create_engine(self.project_dir)


def open_session(*, as_json: bool) -> Session:
    """Find the project and decide how to talk: spinners only when stdout is a terminal and JSON is off."""
    from cli.project import find_project_dir
    from cli.render import err_console, stdin_is_terminal, stdout_is_terminal

    console = err_console()
    return Session(
        project_dir=find_project_dir(),
        console=console,
        spinner=stdout_is_terminal() and not as_json and console.is_terminal,
        interactive=stdin_is_terminal(),
    )


def open_stack(stack: str, *, as_json: bool) -> tuple[Session, CloudTarget | LocalTarget]:
    """A session plus the stack's target, local or cloud; the commands call its verbs the same way."""
    from cli.target import resolve

    session = open_session(as_json=as_json)
    return session, resolve(stack, session.project_dir)


def open_target(stack: str, *, as_json: bool) -> tuple[Session, Target]:
    """A session plus the validated stack target; refuses `local` before touching anything else."""
    from cli.target import resolve_target

    session = open_session(as_json=as_json)
    return session, resolve_target(stack, session.project_dir)
