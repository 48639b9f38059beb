"""`infra outputs`: the stack's outputs, secrets hidden unless asked for."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.options import LOCAL_STACK, JsonOption, StackOption


def outputs(
    stack: StackOption = "local",
    show_secrets: Annotated[bool, typer.Option("--show-secrets", help="Print secret outputs in clear.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the stack's outputs."""
    from cli.commands.context import open_target
    from cli.render import emit_json, render_outputs
    from cli.stack_info import masked_outputs

    if stack == LOCAL_STACK:
        from cli.commands.context import open_session
        from cli.local import verbs

        session = open_session(as_json=as_json)
        values, hidden = masked_outputs(verbs.outputs(session.project_dir), show_secrets)
    else:
        session, target = open_target(stack, as_json=as_json)
        values, hidden = masked_outputs(session.engine().outputs(target.stack), show_secrets)
    if as_json:
        emit_json({"ok": True, "stack": stack, "outputs": values, "secrets_hidden": hidden})
        return
    render_outputs(session.console, values)
    if hidden:
        session.console.print(f"[dim]{len(hidden)} secret output(s) hidden; add --show-secrets to see them[/]")
