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
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Local stack: stay and apply each edit of app_image/ (the API and workers restarted without a "
            "failed request) and of the program or its settings (planned, applied incrementally); Ctrl-C stops "
            "watching and leaves the stack running.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create or update the stack's resources; the policy pack's mandatory violations stop it before any change."""
    from cli.commands.context import open_stack
    from cli.core.errors import ConfigError
    from cli.core.render import emit_json

    if watch and as_json:
        raise ConfigError("--watch reports each edit as it is applied; it has no one JSON document", hint="drop --json")
    session, target = open_stack(stack, as_json=as_json)
    keep_watching = target.watcher(session) if watch else None
    document = target.up(session, yes=yes, smoke=smoke, verify=verify, skip_policy=skip_policy)
    if as_json:
        emit_json(document)
    if keep_watching is not None:
        keep_watching()
