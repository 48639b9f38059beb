"""Output: what a command was asked for on stdout (or its one JSON document), progress and diagnostics on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from cli.core.changes import ChangeReport
    from cli.core.errors import InfraError

LOG_WIDTH = 140
"""Width of rendered tables when stderr is a log or a pipe rather than a terminal."""
_OP_STYLE = {"create": "green", "update": "yellow", "replace": "magenta", "delete": "red", "same": "dim"}
_OP_MARK = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "same": " "}


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def err_console(*, quiet: bool = False) -> Console:
    """The console for progress, tables and messages: always stderr; `quiet` (under --json) writes nothing, so
    stderr carries only an error (render_error has a console of its own)."""
    import os

    from rich.console import Console

    console = Console(stderr=True, highlight=False, soft_wrap=False, quiet=quiet)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = LOG_WIDTH
    return console


def out_console() -> Console:
    """The console for what the command was asked for (logs, outputs, status, the plan tree): stdout."""
    import os

    from rich.console import Console

    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = LOG_WIDTH
    return console


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def emit_json(document: dict[str, Any]) -> None:
    """Write the command's one JSON document to stdout."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=_default) + "\n")
    sys.stdout.flush()


def render_error(error: InfraError, *, as_json: bool) -> None:
    """Show an error once: a JSON document on stdout with --json, and always a message on stderr."""
    console = err_console()
    console.print(f"[bold red]error:[/] {_escape(error.message)}", soft_wrap=True)
    if error.hint:
        console.print(f"[bold]next:[/] {_escape(error.hint)}", soft_wrap=True)
    if as_json:
        emit_json(error.to_json())


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def op_label(op: str) -> str:
    style = _OP_STYLE.get(op, "")
    return f"[{style}]{_OP_MARK.get(op, '?')} {op}[/]" if style else op


def counts_line(counts: dict[str, int]) -> str:
    parts = [f"[{_OP_STYLE[c]}]{n} to {c}[/]" for c, n in counts.items() if n and c != "same"]
    if counts.get("same"):
        parts.append(f"{counts['same']} unchanged")
    return ", ".join(parts) if parts else "no resources"


_DONE = {"create": "created", "update": "updated", "replace": "replaced", "delete": "deleted"}


def done_line(counts: dict[str, int]) -> str:
    """What an applied operation did, in the past tense."""
    parts = [f"[{_OP_STYLE[c]}]{n} {_DONE[c]}[/]" for c, n in counts.items() if n and c in _DONE]
    if counts.get("same"):
        parts.append(f"{counts['same']} unchanged")
    return ", ".join(parts) if parts else "nothing changed"


def render_changes(console: Console, report: ChangeReport, *, title: str, show_diff: bool = False) -> None:
    """A table of the resources that change, then the counts by operation."""
    from rich.table import Table

    changed = report.changed()
    if changed:
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        table.add_column("op")
        table.add_column("resource")
        table.add_column("type", style="dim", overflow="fold")
        table.add_column("note", overflow="fold")
        for item in changed:
            notes = []
            if item.data_kind:
                notes.append(f"[bold]holds data ({item.data_kind})[/]")
            if item.status == "failed":
                notes.append("[bold red]failed[/]")
            if show_diff and item.detailed:
                notes.append(", ".join(f"{k} ({v})" for k, v in sorted(item.detailed.items())))
            elif show_diff and item.diffs:
                notes.append(", ".join(sorted(item.diffs)))
            table.add_row(op_label(item.op), _escape(item.name), item.type, "; ".join(notes))
        console.print(table)
    console.print(f"[bold]{_escape(report.stack)}[/]: {counts_line(report.counts())}")


def render_diagnostics(console: Console, report: ChangeReport) -> None:
    for diag in report.diagnostics:
        if diag.severity in ("error", "warning"):
            colour = "red" if diag.severity == "error" else "yellow"
            console.print(f"[{colour}]{diag.severity}:[/] {_escape(diag.message)}")


def render_outputs(console: Console, values: dict[str, Any]) -> None:
    from rich.table import Table

    if not values:
        console.print("no outputs")
        return
    table = Table(show_header=True, show_edge=False, pad_edge=False)
    table.add_column("output")
    table.add_column("value", overflow="fold")
    for name, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value, default=_default)
        table.add_row(name, _escape(text))
    console.print(table)


def bullet_list(console: Console, title: str, items: Iterable[str]) -> None:
    items = list(items)
    if not items:
        return
    console.print(f"[bold]{_escape(title)}[/]")
    for item in items:
        console.print(f"  - {_escape(item)}")


def render_panels(panels: dict[str, dict[str, Any]]) -> Any:
    """A dashboard's panels as a rich renderable: one small table per panel, side by side."""
    from rich.columns import Columns
    from rich.table import Table

    tables = []
    for title, values in panels.items():
        table = Table(title=title, show_header=False, title_justify="left", min_width=26)
        table.add_column("metric")
        table.add_column("value", justify="right")
        for name, value in values.items():
            table.add_row(name, "-" if value is None else str(value))
        tables.append(table)
    return Columns(tables)
