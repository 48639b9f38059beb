"""`infra restore`: restore the stack's database into a new instance, then print or perform the switch-over."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import JsonOption, StackOption


def restore(
    into: Annotated[str, typer.Option("--into", help="Name of the new instance (never the live one).")],
    to: Annotated[
        str | None, typer.Option("--to", help="Point in time, ISO 8601 with a zone, e.g. 2026-11-30T14:05:00Z.")
    ] = None,
    snapshot: Annotated[
        str | None, typer.Option("--snapshot", help="Snapshot (or AWS Backup recovery point) id.")
    ] = None,
    switch: Annotated[bool, typer.Option("--switch", help="Move the service to the restored instance.")] = False,
    confirm_stack: Annotated[
        str | None, typer.Option("--confirm-stack", help="Confirm --switch on a protected stack from a script.")
    ] = None,
    stack: StackOption = "local",
    as_json: JsonOption = False,
) -> None:
    """Restore the database to a point in time or a snapshot into a new instance; print the switch-over steps."""
    from cli.commands.context import open_stack
    from cli.core.errors import ConfigError
    from cli.core.render import emit_json
    from cli.recovery.times import parse_instant

    if (to is None) == (snapshot is None):
        raise ConfigError("give exactly one of --to TIME or --snapshot ID", hint="see `infra restore --help`")
    instant = parse_instant(to) if to is not None else None
    session, backend = open_stack(stack, as_json=as_json)
    document = backend.restore(
        session, into=into, to=instant, snapshot=snapshot, switch=switch, confirm_stack=confirm_stack
    )
    if as_json:
        emit_json(document)
