"""`infra run`: a one-off task with a service's task definition, network, roles and secrets; its exit code."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import JsonOption, StackOption


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
    if as_json:

        def on_line(line: str) -> None:  # stdout carries only the JSON document
            session.console.print(line, markup=False, highlight=False, soft_wrap=True)

    else:

        def on_line(line: str) -> None:
            typer.echo(line)

    document = target.run(session, list(command), service=service, on_line=on_line)
    if as_json:
        emit_json(document)
    code = document.get("exit_code")
    if code != 0:
        raise typer.Exit(code if isinstance(code, int) and code > 0 else 1)
