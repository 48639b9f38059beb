"""`infra up`: preview, confirm, apply with live progress, then show the outputs."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.options import JsonOption, StackOption


def up(
    stack: StackOption = "local",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking after the preview.")] = False,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Run the smoke check after applying; a breach fails the command.")
    ] = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="Check the live stack through the AWS APIs after applying.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create or update the stack's resources."""
    from cli.commands.context import open_stack
    from cli.render import emit_json

    session, target = open_stack(stack, as_json=as_json)
    document = target.up(session, yes=yes, smoke=smoke, verify=verify)
    if as_json:
        emit_json(document)
