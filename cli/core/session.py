"""What every command has once it starts: the project, a console on stderr, and how it may talk to the user."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class Session:
    """The project directory, the stderr console, and whether spinners and prompts are allowed."""

    project_dir: Path
    console: Console
    spinner: bool
    interactive: bool

    def ask_yes(self, text: str) -> bool:
        """A yes/no question on stderr; no by default."""
        import typer

        return typer.confirm(text, default=False, err=True)

    def ask_text(self, text: str) -> str:
        """A free-text answer on stderr; empty by default."""
        import typer

        return typer.prompt(text, default="", show_default=False, err=True)


def open_session(*, as_json: bool) -> Session:
    """Find the project and decide how to talk: spinners only when stdout is a terminal and JSON is off."""
    from cli.core.project import find_project_dir
    from cli.core.render import err_console, stdin_is_terminal, stdout_is_terminal

    console = err_console()
    return Session(
        project_dir=find_project_dir(),
        console=console,
        spinner=stdout_is_terminal() and not as_json and console.is_terminal,
        interactive=stdin_is_terminal(),
    )
