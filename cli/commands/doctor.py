"""`infra doctor`: a green/red table of prerequisites, each with a fix."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import JsonOption

DoctorStackOption = Annotated[
    str | None,
    typer.Option(
        "--stack",
        "-s",
        help="Check what this stack needs (`local`: PostgreSQL, PgBouncer, nginx, Redis, moto, ports, disk). "
        "Left out: the cloud prerequisites and every stack file, as before.",
    ),
]


def doctor(stack: DoctorStackOption = None, as_json: JsonOption = False) -> None:
    """Check the prerequisites: without --stack, the Pulumi CLI, state backend, secrets, AWS and every stack file."""
    from rich.markup import escape
    from rich.table import Table

    from cli.commands.context import open_session, open_stack
    from cli.core.errors import ConfigError
    from cli.core.render import emit_json

    if stack is None:
        from cli.cloud.doctor import run_checks

        session = open_session(as_json=as_json)
        checks = run_checks(session.project_dir)
        session.console.print("[dim]cloud prerequisites; `infra doctor --stack local` checks the local stack's[/]")
    else:
        session, target = open_stack(stack, as_json=as_json)
        checks = target.doctor(session)
    failed = [c for c in checks if not c.ok]
    table = Table(title="infra doctor", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("", "check", "found", "fix"):
        table.add_column(column, overflow="fold")
    for check in checks:
        mark = "[green]ok[/]" if check.ok else "[red]FAIL[/]"
        table.add_row(mark, check.name, escape(check.detail), escape(check.hint))
    session.output.print(table)
    document = {"ok": not failed, "checks": [c.to_json() for c in checks]}
    if failed:
        where = "under details.failed (each with its hint)" if as_json else "marked FAIL above (each with its fix)"
        raise ConfigError(
            f"{len(failed)} of {len(checks)} checks failed: {', '.join(c.name for c in failed)}",
            hint=f"fix the checks {where}, then run `infra doctor` again",
            details={"checks": document["checks"], "failed": [c.to_json() for c in failed]},
        )
    if as_json:
        emit_json(document)
