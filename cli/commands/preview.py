"""`infra preview`: what would change, by operation."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import JsonOption, SkipPolicyOption, StackOption


def preview(
    stack: StackOption = "local",
    diff: Annotated[bool, typer.Option("--diff", help="List the changed properties of each resource.")] = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option("--detailed-exitcode", help="Exit 3 when there are changes, 0 when there are none."),
    ] = False,
    skip_policy: SkipPolicyOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show what `up` would create, update, replace and delete, and the policy pack's verdict."""
    from cli.commands.context import open_stack
    from cli.core.errors import ExitCode
    from cli.core.render import emit_json

    session, target = open_stack(stack, as_json=as_json)
    document = target.preview(session, diff=diff, skip_policy=skip_policy)
    if as_json:
        emit_json(document)
    if detailed_exitcode and document["changes_present"]:
        raise typer.Exit(int(ExitCode.CHANGES))
