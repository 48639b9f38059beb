"""`infra run`: a one-off task with a service's task definition, network, roles and secrets; its exit code."""

from __future__ import annotations

import collections
from typing import Annotated

import typer

from cli.core.options import JsonOption, StackOption

OUTPUT_LINES_KEPT = 1000
"""Under --json, the task's last lines of output the document carries (the earlier ones are counted)."""


def run(
    command: Annotated[list[str], typer.Argument(help="The command and its arguments (after `--`).")],
    stack: StackOption = "local",
    service: Annotated[
        str | None, typer.Option("--service", help="The ECS service whose task runs it (default: the API's).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run a one-off command as a task of the service (ECS RunTask in its private subnets; locally a process with
    the API's environment); its output is streamed and the command exits with the task's exit code."""
    from cli.commands.context import open_stack
    from cli.core.render import emit_json

    session, target = open_stack(stack, as_json=as_json)
    kept: collections.deque[str] = collections.deque(maxlen=OUTPUT_LINES_KEPT)
    seen = 0
    if as_json:

        def on_line(line: str) -> None:  # stdout carries only the JSON document, which gets the lines
            nonlocal seen
            seen += 1
            kept.append(line)

    else:

        def on_line(line: str) -> None:
            typer.echo(line)

    document = target.run(session, list(command), service=service, on_line=on_line)
    if as_json:
        emit_json({**document, "output": list(kept), "output_lines_dropped": seen - len(kept)})
    code = document.get("exit_code")
    if code != 0:
        raise typer.Exit(code if isinstance(code, int) and code > 0 else 1)
