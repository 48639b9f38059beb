"""`infra status`: which of the local stack's services run, with their pids, ports and logs."""

from __future__ import annotations

from cli.core.options import LOCAL_STACK, JsonOption, StackOption


def status(stack: StackOption = LOCAL_STACK, as_json: JsonOption = False) -> None:
    """Show which of the local stack's services run, and the API's health check (a cloud stack has `verify`)."""
    from cli.commands.context import open_stack
    from cli.core.render import emit_json

    session, target = open_stack(stack, as_json=as_json, local_only=True)
    document = target.status(session)
    if as_json:
        emit_json(document)
