"""`infra diff`: what the working tree's plan changes against a git ref or a saved plan."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import JsonOption, StackOption

BaseOption = Annotated[str, typer.Option("--base", help="A git ref (origin/main) or a plan saved with --out.")]


def diff(stack: StackOption = "local", base: BaseOption = "origin/main", as_json: JsonOption = False) -> None:
    """Compare the plan with a git ref or saved plan: added, removed, changed; risky changes flagged."""
    from cli.commands.context import open_session
    from cli.core.render import emit_json
    from cli.cost.render import render_delta
    from cli.cost.sources import offline_delta
    from cli.plan.actions import head_and_base, require_cloud_stack
    from cli.plan.diff import diff_plans
    from cli.plan.render import render_diff

    require_cloud_stack(stack)
    session = open_session(as_json=as_json)
    head, before, label = head_and_base(stack, session.project_dir, base)
    result = diff_plans(before, head)
    render_diff(session.output, result, label)
    delta, problem = offline_delta(before, head, session.project_dir)
    if delta is not None:
        render_delta(session.output, delta)
    else:
        session.console.print(f"[yellow]cost not estimated:[/] {problem}")
    if as_json:
        cost = delta.to_json() if delta is not None else {"error": problem}
        emit_json({"ok": True, "stack": stack, "base": label, **result.to_json(), "cost": cost})
