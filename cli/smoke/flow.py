"""What `infra smoke` and `infra up --smoke` share: run the check, show it, write the files, judge it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.core.errors import ConfigError
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
    from cli.smoke.html import write_html
    from cli.smoke.junit import write_junit
    from cli.smoke.terminal import render_report

    report = run_smoke(target, options, on_stage=lambda text: console.print(f"[dim]smoke: {text}[/]"))
    render_report(console, report)
    for path, write in ((junit, write_junit), (html, write_html)):
        if path is None:
            continue
        try:
            write(report, path)
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror}", hint="choose a writable path") from None
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
