"""`infra status`: which of the local stack's services run, with their pids, ports and logs."""

from __future__ import annotations

from cli.options import LOCAL_STACK, JsonOption, StackOption


def status(stack: StackOption = LOCAL_STACK, as_json: JsonOption = False) -> None:
    """Show which of the local stack's services run (a crashed one is restarted by the next `up`)."""
    from cli.commands.context import open_session
    from cli.local import verbs
    from cli.render import emit_json
    from cli.target import ensure_local

    ensure_local(stack, "status")
    session = open_session(as_json=as_json)
    document = verbs.status(session.project_dir, session.console)
    if as_json:
        emit_json(document)
