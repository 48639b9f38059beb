"""`infra logs`: the last lines of the local stack's service logs."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import LOCAL_STACK, JsonOption, StackOption


def logs(
    service: Annotated[
        str | None, typer.Argument(help="postgres, pgbouncer, api, tls or s3; all of them when left out.")
    ] = None,
    stack: StackOption = LOCAL_STACK,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, max=100_000, help="Lines per service.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Print the last lines of the local stack's logs (the API's are JSON lines)."""
    from cli.commands.context import open_stack
    from cli.core.render import emit_json

    session, target = open_stack(stack, as_json=as_json)
    tails = target.logs(session, service, lines)
    if as_json:
        emit_json({"ok": True, "stack": stack, "logs": tails})
        return
    for name, text in tails.items():
        session.console.print(f"[bold]==> {name} <==[/]")
        for line in text:
            session.console.print(line, markup=False, highlight=False, soft_wrap=True)
