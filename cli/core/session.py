"""What every command has once it starts: the project, its two consoles, and how it may talk to the user."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class Session:
    """The project directory, the two consoles, and whether spinners and prompts are allowed."""

    project_dir: Path
    console: Console
    """Progress and diagnostics: stderr (quiet under --json)."""
    spinner: bool
    interactive: bool
    output: Console
    """What the command was asked for (logs, outputs, status, the plan tree): stdout, so it can be piped; under
    --json the quiet stderr console, stdout carrying the one JSON document."""
    started: float = field(default_factory=time.perf_counter)
    """When the command began (`time.perf_counter()`), so a duration it reports measures the whole command."""

    def ask_yes(self, text: str) -> bool:
        """A yes/no question on stderr; no by default."""
        import typer

        return typer.confirm(text, default=False, err=True)

    def ask_text(self, text: str) -> str:
        """A free-text answer on stderr; empty by default."""
        import typer

        return typer.prompt(text, default="", show_default=False, err=True)


def open_session(*, as_json: bool) -> Session:
    """Find the project and decide how to talk: spinners only when stdout is a terminal and JSON is off; under
    --json both consoles are quiet, stdout carrying the one document and stderr nothing but an error."""
    from cli.core.project import find_project_dir
    from cli.core.render import err_console, out_console, stdin_is_terminal, stdout_is_terminal

    console = err_console(quiet=as_json)
    return Session(
        project_dir=find_project_dir(),
        console=console,
        spinner=stdout_is_terminal() and not as_json and console.is_terminal,
        interactive=stdin_is_terminal(),
        output=console if as_json else out_console(),
    )
