"""`infra plan`: the stack's declared resources from an offline run of the program, no credentials needed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import JsonOption, StackOption

OutOption = Annotated[Path | None, typer.Option("--out", help="Also write the plan to this file (for diff --base).")]


def plan(stack: StackOption = "local", out: OutOption = None, as_json: JsonOption = False) -> None:
    """Run the stack's program under a recording mock and show every resource it declares."""
    from cli.commands.context import open_session
    from cli.plan.commands import plan_for_exit
    from cli.plan.document import dumps
    from cli.plan.render import render_plan

    session = open_session(as_json=as_json)
    document = plan_for_exit(stack, session.project_dir)
    text = dumps(document)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    render_plan(session.console, document)
    if as_json:
        import sys

        sys.stdout.write(text)
        sys.stdout.flush()
