"""`infra dashboard`: the local stack's dashboard as a live terminal view, or one frame."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.options import LOCAL_STACK, JsonOption, StackOption


def dashboard(
    stack: StackOption = LOCAL_STACK,
    interval: Annotated[float, typer.Option("--interval", min=0.2, max=60, help="Seconds between refreshes.")] = 2.0,
    once: Annotated[
        bool, typer.Option("--once", help="Print one frame and exit (the default off a terminal).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the load balancer, service, database and pool panels of the local stack, refreshed live."""
    from cli.commands.context import open_session
    from cli.errors import ConfigError
    from cli.local.dashboard import Dashboard, render
    from cli.local.stack import stack_for
    from cli.render import emit_json, stdout_is_terminal
    from cli.target import ensure_local

    ensure_local(stack, "dashboard")
    session = open_session(as_json=as_json)
    local = stack_for(session.project_dir)
    if not any(state.state == "running" for state in local.status() if state.name == "api"):
        raise ConfigError("the local stack's API is not running", hint="run `infra up --stack local` first")
    board = Dashboard(local)
    if once or as_json or not stdout_is_terminal():
        frame = board.frame(min(interval, 1.0))
        if as_json:
            emit_json({"ok": True, "stack": stack, "panels": frame.to_json()})
        else:
            session.console.print(render(frame))
        return
    from rich.live import Live

    with Live(render(board.frame(interval)), console=session.console, auto_refresh=False) as live:
        try:
            while True:
                live.update(render(board.frame(interval)), refresh=True)
        except KeyboardInterrupt:
            return
