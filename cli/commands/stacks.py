"""`infra stacks`: the stacks that have files, which need the Pulumi CLI, and what the state backend knows."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from cli.core.options import LOCAL_STACK, JsonOption

if TYPE_CHECKING:
    from cli.cloud.stacks_list import StackRow


def stacks(as_json: JsonOption = False) -> None:
    """List the configured stacks (and deployed ones); works without the Pulumi CLI, which only the cloud ones need."""
    from rich.markup import escape
    from rich.table import Table

    from cli.cloud.engine import create_engine
    from cli.cloud.stacks_list import list_stacks
    from cli.commands.context import open_session
    from cli.core.render import emit_json

    session = open_session(as_json=as_json)
    engine = create_engine(session.project_dir)
    rows, missing = list_stacks(engine, session.project_dir)
    rows = [_with_local_state(row, session.project_dir) if row.name == LOCAL_STACK else row for row in rows]
    backend = engine.backend.url
    if missing is not None:
        session.console.print(
            f"[yellow]note:[/] {escape(missing.message)}; deployments unknown. {escape(missing.hint)}"
        )
    if as_json:
        document = {"ok": True, "backend": backend, "stacks": [r.to_json() for r in rows]}
        if missing is not None:
            document["backend_unavailable"] = {"message": missing.message, "hint": missing.hint}
        emit_json(document)
        return
    table = Table(title=f"Stacks in {backend}", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("stack", "configured", "needs Pulumi CLI", "deployed", "last update", "resources"):
        table.add_column(column)
    for row in rows:
        busy = " (update in progress)" if row.update_in_progress else ""
        table.add_row(
            row.name,
            "yes" if row.configured else "no",
            "yes" if row.needs_pulumi else "no",
            "unknown" if row.deployed is None else "yes" if row.deployed else "no",
            (row.last_update or ("never" if row.deployed is False else "")) + busy,
            "" if row.resource_count is None else str(row.resource_count),
        )
    session.output.print(table)


def _with_local_state(row: StackRow, project_dir: Path) -> StackRow:
    """The local stack has no state in the backend: whether it is up, and when it last changed, come from its files."""
    from cli.commands.context import local_stack_changed

    try:
        changed = local_stack_changed(project_dir)
    except OSError:  # where the stack lives could not be worked out (runuser missing): left unknown
        return row
    if changed is None:
        return replace(row, deployed=False, last_update=None)
    return replace(row, deployed=True, last_update=dt.datetime.fromtimestamp(changed, dt.UTC).isoformat("T", "seconds"))
