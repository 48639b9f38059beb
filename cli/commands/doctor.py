"""`infra doctor`: a green/red table of prerequisites, each with a fix."""

from __future__ import annotations

from cli.core.options import JsonOption


def doctor(as_json: JsonOption = False) -> None:
    """Check the Pulumi CLI, state backend, secrets, AWS credentials, Docker and every stack's settings."""
    from rich.markup import escape
    from rich.table import Table

    from cli.cloud.doctor import run_checks
    from cli.commands.context import open_session
    from cli.core.errors import ConfigError
    from cli.core.render import emit_json

    session = open_session(as_json=as_json)
    checks = run_checks(session.project_dir)
    failed = [c for c in checks if not c.ok]
    table = Table(title="infra doctor", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("", "check", "found", "fix"):
        table.add_column(column, overflow="fold")
    for check in checks:
        mark = "[green]ok[/]" if check.ok else "[red]FAIL[/]"
        table.add_row(mark, check.name, escape(check.detail), escape(check.hint))
    if not as_json:
        session.console.print(table)
    document = {"ok": not failed, "checks": [c.to_json() for c in checks]}
    if failed:
        raise ConfigError(
            f"{len(failed)} of {len(checks)} checks failed: {', '.join(c.name for c in failed)}",
            hint="fix the FAIL rows above (each has its fix), then run `infra doctor` again",
            details={"checks": document["checks"]},
        )
    if as_json:
        emit_json(document)
