"""`infra refresh`: reconcile the state with what exists in the cloud."""

from __future__ import annotations

from cli.options import JsonOption, StackOption


def refresh(stack: StackOption = "local", as_json: JsonOption = False) -> None:
    """Read every resource back from the cloud and record any drift in the state."""
    from cli import operations
    from cli.commands.context import open_target
    from cli.render import emit_json, render_changes, render_diagnostics

    session, target = open_target(stack, as_json=as_json)
    report = operations.refresh(session.engine(), target, session.console, spinner=session.spinner)
    render_changes(session.console, report, title=f"Drift recorded in {target.stack}")
    render_diagnostics(session.console, report)
    if as_json:
        emit_json({"ok": True, **report.to_json()})
