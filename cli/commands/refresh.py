"""`infra refresh`: reconcile the state with what exists in the cloud."""

from __future__ import annotations

from cli.core.options import JsonOption, StackOption


def refresh(stack: StackOption = "local", as_json: JsonOption = False) -> None:
    """Read every resource back from the cloud and record any drift in the state."""
    from cli.commands.context import open_stack
    from cli.core.render import emit_json

    session, backend = open_stack(stack, as_json=as_json)
    document = backend.refresh(session)
    if as_json:
        emit_json(document)
