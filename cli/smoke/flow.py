"""What `infra smoke` and `infra up --smoke` share: run the check, show it, write the files, judge it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.smoke.check import SmokeOptions, run_smoke
from cli.smoke.endpoint import ServiceEndpoint
from cli.smoke.report import SmokeReport, breach

if TYPE_CHECKING:
    from rich.console import Console


def run_and_report(
    target: ServiceEndpoint,
    options: SmokeOptions,
    console: Console,
    *,
    junit: Path | None = None,
    html: Path | None = None,
) -> SmokeReport:
    """Run the check with progress on the console, render the report there, and write the requested files."""
    from cli.core.files import write_user_text
    from cli.smoke.html import html_report
    from cli.smoke.junit import junit_xml
    from cli.smoke.terminal import render_report

    report = run_smoke(target, options, on_stage=lambda text: console.print(f"[dim]smoke: {text}[/]"))
    render_report(console, report)
    for path, render, option in ((junit, junit_xml, "--junit"), (html, html_report, "--html")):
        if path is None:
            continue
        write_user_text(path, render(report), option)
        console.print(f"[dim]wrote {path}[/]")
    return report


def judge(report: SmokeReport, **context: Any) -> None:
    """Raise the breach error (exit 1) when a gate broke; `context` joins the report in its JSON document."""
    if not report.passed:
        raise breach(report, **context)


def smoke_applied(stack: str, target: ServiceEndpoint, console: Console, document: dict[str, Any]) -> None:
    """`infra up --smoke`: the default check after the apply, added to `document`; a breach raises."""
    console.print(f"[bold]smoke check[/] of {stack}")
    report = run_and_report(target, SmokeOptions(), console)
    document["smoke"] = report.to_json()
    judge(report, **{key: value for key, value in document.items() if key != "ok"})
