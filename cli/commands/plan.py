"""`infra plan`: the stack's declared resources from an offline run of the program, no credentials needed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.core.options import JsonOption, StackOption

if TYPE_CHECKING:
    from cli.commands.context import Session

OutOption = Annotated[Path | None, typer.Option("--out", help="Also write the plan to this file (for diff --base).")]
SettingsOption = Annotated[
    bool,
    typer.Option("--settings", help="Show every setting's effective value and source (file or default) instead."),
]


def plan(
    stack: StackOption = "local", out: OutOption = None, settings: SettingsOption = False, as_json: JsonOption = False
) -> None:
    """Run the stack's program under a recording mock and show every resource it declares."""
    from cli.commands.context import open_session
    from cli.plan.actions import plan_for_exit
    from cli.plan.document import dumps
    from cli.plan.render import render_plan

    session = open_session(as_json=as_json)
    if settings:
        _show_settings(stack, session, as_json)
        return
    document = plan_for_exit(stack, session.project_dir)
    text = dumps(document)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    render_plan(session.output, document)
    if as_json:
        import sys

        sys.stdout.write(text)
        sys.stdout.flush()


def _show_settings(stack: str, session: Session, as_json: bool) -> None:
    """The `--settings` view: a table on stdout, or the same rows as one JSON document on stdout with --json."""
    import json
    import sys

    from cli.core.stack_ref import effective_settings
    from cli.plan.render import render_settings

    document = effective_settings(stack, session.project_dir)
    render_settings(session.output, document)
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        sys.stdout.flush()
