"""`infra stacks`: what exists, when it last changed, and how many resources it holds."""

from __future__ import annotations

from cli.core.options import JsonOption


def stacks(as_json: JsonOption = False) -> None:
    """List configured and deployed stacks."""
    from rich.table import Table

    from cli.cloud.engine import create_engine
    from cli.cloud.stacks_list import list_stacks
    from cli.commands.context import open_session
    from cli.core.render import emit_json

    session = open_session(as_json=as_json)
    engine = create_engine(session.project_dir)
    rows = list_stacks(engine, session.project_dir)
    if as_json:
        emit_json({"ok": True, "backend": engine.backend.url, "stacks": [r.to_json() for r in rows]})
        return
    table = Table(title=f"Stacks in {engine.backend.url}", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("stack", "configured", "deployed", "last update", "resources"):
        table.add_column(column)
    for row in rows:
        busy = " (update in progress)" if row.update_in_progress else ""
        table.add_row(
            row.name,
            "yes" if row.configured else "no",
            "yes" if row.deployed else "no",
            (row.last_update or "never") + busy,
            "" if row.resource_count is None else str(row.resource_count),
        )
    session.console.print(table)
