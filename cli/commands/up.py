"""`infra up`: preview, confirm, apply with live progress, then show the outputs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.options import LOCAL_STACK, JsonOption, SkipPolicyOption, StackOption


def up(
    stack: StackOption = "local",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking after the preview.")] = False,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Run the smoke check after applying; a breach fails the command.")
    ] = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="Check the live stack through the AWS APIs after applying.")
    ] = False,
    skip_policy: SkipPolicyOption = False,
    as_json: JsonOption = False,
) -> None:
    """Create or update the stack's resources; the policy pack's mandatory violations stop it before any change."""
    from cli import operations
    from cli.commands.context import open_target
    from cli.render import done_line, emit_json, render_changes, render_diagnostics, render_outputs
    from cli.stack_info import masked_outputs

    if stack == LOCAL_STACK:
        _up_local(smoke=smoke, verify=verify, as_json=as_json)
        return
    from cli.plan.policy.pack_gate import open_gate, skipped_json

    session, target = open_target(stack, as_json=as_json)
    console = session.console

    def show_plan(plan: Any) -> None:
        render_changes(console, plan, title=f"Changes to {target.stack}")
        if gate is not None:
            gate.render(console)

    with open_gate(target, skip=skip_policy, console=console) as gate:
        outcome = operations.up(
            session.engine(),
            target,
            console,
            yes=yes,
            interactive=session.interactive,
            spinner=session.spinner,
            ask=lambda text: typer.confirm(text, default=False, err=True),
            show_plan=show_plan,
            policy=gate,
        )
    if outcome.applied is None:
        console.print("no changes to apply")
    else:
        render_diagnostics(console, outcome.applied)
        console.print(f"[bold green]applied[/] {target.stack}: {done_line(outcome.applied.counts())}")
    values, hidden = masked_outputs(outcome.outputs, show_secrets=False)
    render_outputs(console, values)
    if hidden:
        console.print(f"[dim]{len(hidden)} secret output(s) hidden; see `infra outputs --show-secrets`[/]")
    document = {**outcome.to_json(), "policy": gate.to_json() if gate is not None else skipped_json()}
    if verify:
        from cli.verify.runner import verify_applied

        verify_applied(target, outcome.outputs, console, document)
    if smoke:
        from cli.smoke.flow import smoke_applied

        smoke_applied(target, outcome.outputs, console, document)
    if as_json:
        emit_json(document)


def _up_local(*, smoke: bool, verify: bool, as_json: bool) -> None:
    """The local stack: start what is not running; nothing to confirm, since nothing leaves this machine."""
    from cli.commands.context import open_session
    from cli.errors import NotAvailable
    from cli.local import verbs
    from cli.render import emit_json

    if verify:
        raise NotAvailable(
            "--verify checks a cloud stack through the AWS APIs; the local stack has none",
            hint="use `infra status --stack local`, or `--smoke` for an end-to-end check",
        )
    session = open_session(as_json=as_json)
    document = verbs.up(session.project_dir, session.console, spinner=session.spinner)
    if smoke:
        verbs.smoke_after_up(session.project_dir, session.console, document)
    if as_json:
        emit_json(document)
