"""`infra destroy`: list what goes and what holds data, demand the right confirmation, then delete."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import JsonOption, StackOption


def destroy(
    stack: StackOption = "local",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Skip the prompt (refused on protected stacks).")] = False,
    confirm_stack: Annotated[
        str | None,
        typer.Option("--confirm-stack", help="Confirm by naming the stack; the only non-interactive way for prod."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete the stack's resources; protected resources are kept and the final database snapshot is named."""
    from cli.commands.context import open_stack
    from cli.core.render import emit_json

    session, target = open_stack(stack, as_json=as_json)
    document = target.destroy(session, yes=yes, confirm_stack=confirm_stack)
    if as_json:
        emit_json(document)
