"""`infra policy`: the controls of docs/plan-and-policy.md over the stack's plan; errors exit 1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.core.options import JsonOption, StackOption

MarkdownOption = Annotated[
    Path | None, typer.Option("--markdown", help="Write a pull-request comment (diff and policy) to this file.")
]
BaseOption = Annotated[
    str | None, typer.Option("--base", help="Include the diff against this git ref or saved plan in --markdown.")
]
PlanOption = Annotated[Path | None, typer.Option("--plan", help="Check this saved plan instead of planning again.")]


def policy(
    stack: StackOption = "local",
    markdown: MarkdownOption = None,
    base: BaseOption = None,
    plan_file: PlanOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate every control: E errors everywhere, P errors on prod and warnings elsewhere, A advice."""
    from cli.commands.context import open_session
    from cli.core.errors import ExitCode
    from cli.core.files import write_user_text
    from cli.core.render import emit_json
    from cli.plan.actions import check_policy, require_cloud_stack
    from cli.plan.render import render_policy

    require_cloud_stack(stack)
    session = open_session(as_json=as_json)
    report, text = check_policy(stack, session.project_dir, plan_file=plan_file, base=base)
    render_policy(session.output, report)
    if markdown is not None:
        write_user_text(markdown, text, "--markdown")
    if as_json:
        emit_json({"ok": report.ok, **report.to_json()})
    if not report.ok:
        raise typer.Exit(int(ExitCode.FAILED))
