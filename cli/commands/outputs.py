"""`infra outputs`: the stack's outputs, secrets hidden unless asked for."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import JsonOption, StackOption


def outputs(
    stack: StackOption = "local",
    show_secrets: Annotated[bool, typer.Option("--show-secrets", help="Print secret outputs in clear.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the stack's outputs."""
    from cli.commands.context import open_stack
    from cli.core.outputs import masked_outputs
    from cli.core.render import emit_json, render_outputs

    session, target = open_stack(stack, as_json=as_json)
    values, hidden = masked_outputs(target.outputs(session), show_secrets)
    if as_json:
        emit_json({"ok": True, "stack": stack, "outputs": values, "secrets_hidden": hidden})
        return
    render_outputs(session.output, values)
    if hidden:
        session.console.print(f"[dim]{len(hidden)} secret output(s) hidden; add --show-secrets to see them[/]")
