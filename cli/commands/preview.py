"""`infra preview`: what would change, by operation."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.options import LOCAL_STACK, JsonOption, SkipPolicyOption, StackOption


def preview(
    stack: StackOption = "local",
    diff: Annotated[bool, typer.Option("--diff", help="List the changed properties of each resource.")] = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option("--detailed-exitcode", help="Exit 3 when there are changes, 0 when there are none."),
    ] = False,
    skip_policy: SkipPolicyOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show what `up` would create, update, replace and delete, and the policy pack's verdict."""
    from cli import operations
    from cli.commands.context import open_target
    from cli.errors import ExitCode
    from cli.render import emit_json, render_changes, render_diagnostics

    if stack == LOCAL_STACK:
        from cli.commands.context import open_session
        from cli.local import verbs

        session = open_session(as_json=as_json)
        document = verbs.preview(session.project_dir, session.console)
        if as_json:
            emit_json({**document, "changes_present": document["changes"] > 0})
        if detailed_exitcode and document["changes"]:
            raise typer.Exit(int(ExitCode.CHANGES))
        return
    from cli.plan.policy.pack_gate import open_gate, skipped_json

    session, target = open_target(stack, as_json=as_json)
    with open_gate(target, skip=skip_policy, console=session.console) as gate:
        report = operations.preview(
            session.engine(), target, session.console, diff=diff, spinner=session.spinner, policy=gate
        )
    render_changes(session.console, report, title=f"Preview of {target.stack}", show_diff=diff)
    render_diagnostics(session.console, report)
    if gate is not None:
        gate.render(session.console)
    if as_json:
        verdict = gate.to_json() if gate is not None else skipped_json()
        emit_json({"ok": True, "changes_present": report.has_changes, **report.to_json(), "policy": verdict})
    if detailed_exitcode and report.has_changes:
        raise typer.Exit(int(ExitCode.CHANGES))
