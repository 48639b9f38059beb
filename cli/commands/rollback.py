"""`infra rollback`: bring back an earlier promoted release through the same release path and checks."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import JsonOption, StackOption


def rollback(
    stack: StackOption = "local",
    to: Annotated[
        str | None, typer.Option("--to", help="The release to bring back (an id from `infra releases`, e.g. r3).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Roll back without asking.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Deploy an earlier promoted release again (by default the one before the live one) through the blue/green path
    and its checks; no down-migration runs. The release it replaces is recorded as rolled back."""
    from cli.commands.context import open_stack
    from cli.core.render import emit_json

    session, target = open_stack(stack, as_json=as_json)
    document = target.rollback(session, to=to, yes=yes)
    if as_json:
        emit_json(document)
