"""`infra dashboard`: the local stack's dashboard as a live terminal view, or one frame."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import LOCAL_STACK, JsonOption, StackOption


def dashboard(
    stack: StackOption = LOCAL_STACK,
    interval: Annotated[float, typer.Option("--interval", min=0.2, max=60, help="Seconds between refreshes.")] = 2.0,
    once: Annotated[
        bool, typer.Option("--once", help="Print one frame and exit (the default off a terminal).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the load balancer, service, database and pool panels of the local stack, refreshed live."""
    from cli.commands.context import open_stack
    from cli.core.render import emit_json, render_panels, stdout_is_terminal

    session, backend = open_stack(stack, as_json=as_json, local_only=True)
    board = backend.dashboard(session)
    if once or as_json or not stdout_is_terminal():
        frame = board.frame(min(interval, 1.0))
        if as_json:
            emit_json({"ok": True, "stack": stack, "panels": frame.to_json()})
        else:
            session.console.print(render_panels(frame.panels))
        return
    from rich.live import Live

    with Live(render_panels(board.frame(interval).panels), console=session.console, auto_refresh=False) as live:
        try:
            while True:
                live.update(render_panels(board.frame(interval).panels), refresh=True)
        except KeyboardInterrupt:
            return
