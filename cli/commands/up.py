"""`infra up`: preview, confirm, apply with live progress, then show the outputs."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import JsonOption, SkipPolicyOption, StackOption


def up(
    stack: StackOption = "local",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking after the preview.")] = False,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Run the smoke check after applying; a breach fails the command.")
    ] = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="Check the live stack through the AWS APIs after applying.")
    ] = False,
    skip_policy: SkipPolicyOption = False,
    as_json: JsonOption = False,
) -> None:
    """Create or update the stack's resources; the policy pack's mandatory violations stop it before any change."""
    from cli.commands.context import open_stack
    from cli.core.render import emit_json

    session, target = open_stack(stack, as_json=as_json)
    document = target.up(session, yes=yes, smoke=smoke, verify=verify, skip_policy=skip_policy)
    if as_json:
        emit_json(document)
