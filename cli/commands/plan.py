"""`infra plan`: the stack's declared resources from an offline run of the program, no credentials needed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.core.options import JsonOption, StackOption

if TYPE_CHECKING:
    from cli.commands.context import Session

OutOption = Annotated[Path | None, typer.Option("--out", help="Also write the plan to this file (for diff --base).")]
GrafanaOption = Annotated[
    Path | None,
    typer.Option(
        "--grafana-dashboard",
        help="Also write the stack's Grafana dashboard (JSON, CloudWatch data source) to this file, for import.",
    ),
]
SettingsOption = Annotated[
    bool,
    typer.Option("--settings", help="Show every setting's effective value and source (file or default) instead."),
]


def plan(
    stack: StackOption = "local",
    out: OutOption = None,
    settings: SettingsOption = False,
    grafana_dashboard: GrafanaOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the stack's program under a recording mock and show every resource it declares."""
    from cli.commands.context import open_session
    from cli.core.files import write_user_text
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
        write_user_text(out, text, "--out")
    if grafana_dashboard is not None:
        _write_grafana_dashboard(document, grafana_dashboard, session)
    render_plan(session.output, document)
    if as_json:
        import sys

        sys.stdout.write(text)
        sys.stdout.flush()


def _write_grafana_dashboard(document: dict, path: Path, session: Session) -> None:
    """The dashboard of the plan's panels, as Grafana imports it."""
    import json

    from cli.core.errors import ConfigError
    from cli.core.files import write_user_text

    dashboard = document.get("grafana_dashboard")
    if dashboard is None:
        raise ConfigError("this stack's program renders no Grafana dashboard", hint="plan a stack of this tree")
    write_user_text(path, json.dumps(dashboard, indent=2, sort_keys=True) + "\n", "--grafana-dashboard")
    session.console.print(f"Grafana dashboard ({len(dashboard.get('panels', []))} panels) written to {path}")


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
