"""`infra logs`: the last lines of the local stack's service logs, and with -f the lines as they come."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import LOCAL_STACK, JsonOption, StackOption


def logs(
    service: Annotated[
        str | None, typer.Argument(help="One service of the stack (`infra status` lists them); all when left out.")
    ] = None,
    stack: StackOption = LOCAL_STACK,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, max=100_000, help="Lines per service.")] = 50,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing lines as the services write them (Ctrl-C stops).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the last lines of the local stack's logs on stdout (the API's are JSON lines)."""
    from cli.commands.context import open_stack
    from cli.core.errors import UsageError
    from cli.core.render import emit_json

    if follow and as_json:
        raise UsageError("--follow streams lines; --json prints one document", hint="drop one of --follow and --json")
    session, target = open_stack(stack, as_json=as_json, local_only=True)
    tails = target.logs(session, service, lines)
    if as_json:
        emit_json({"ok": True, "stack": stack, "logs": tails})
        return
    several = len(tails) > 1
    for name, text in tails.items():
        if several:
            session.output.print(f"[bold]==> {name} <==[/]")
        for line in text:
            session.output.print(line, markup=False, highlight=False, soft_wrap=True)
    if not follow:
        return
    try:
        for name, line in target.follow_logs(session, service):
            session.output.print(f"{name} | {line}" if several else line, markup=False, highlight=False, soft_wrap=True)
    except KeyboardInterrupt:
        return
