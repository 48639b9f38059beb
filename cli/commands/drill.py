"""`infra drill`: rehearse a disaster recovery end to end and report the recovery point and time measured."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.core.options import JsonOption, StackOption


def drill(
    stack: StackOption = "local",
    report_dir: Annotated[
        Path | None, typer.Option("--report-dir", help="Where the Markdown report goes (default .infra/drills/).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write a marker through the API, restore to a point after it, check every row, time it, clean up, report."""
    from cli.commands.context import open_stack
    from cli.core.render import emit_json
    from cli.recovery import report as drill_report
    from cli.recovery.drill import DrillFailed

    session, backend = open_stack(stack, as_json=as_json)
    console = session.console
    directory = report_dir or session.project_dir / ".infra" / "drills"
    drill_report.prepare_dir(directory)
    result = backend.drill(session, progress=console.print)
    drill_report.write_markdown(result, directory, f"infra drill --stack {stack}")
    drill_report.show(console, result)
    if not result.ok:
        raise DrillFailed(
            f"drill {result.run} on {stack} failed: the restored database is not what was written",
            hint=f"see {result.markdown}",
            details={"drill": result.to_json()},
        )
    if as_json:
        emit_json({"ok": True, "drill": result.to_json()})
