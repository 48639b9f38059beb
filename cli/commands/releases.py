"""`infra releases`: the stack's release history, oldest first."""

from __future__ import annotations

from cli.core.options import JsonOption, StackOption


def releases(stack: StackOption = "local", as_json: JsonOption = False) -> None:
    """List the stack's releases: id, when, image (or the local content tag), task definition, settings hash,
    outcome (promoted, rolled back, failed before traffic) and who released it."""
    from cli.commands.context import open_stack
    from cli.core.render import emit_json

    session, target = open_stack(stack, as_json=as_json)
    document = target.releases(session)
    if as_json:
        emit_json(document)
