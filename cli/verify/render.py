"""The verification report as a table on stderr."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape

from cli.verify.model import Check, Report, Status

if TYPE_CHECKING:
    from rich.console import Console

STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}


def summary_line(report: Report) -> str:
    """Counts by status, in words."""
    counts = report.summary()
    return f"{counts['pass']} passed, {counts['warn']} warning(s), {counts['fail']} failed"


def problem_line(check: Check) -> str:
    """A check that did not pass, on one line: what was observed and what was expected."""
    where = f" ({check.resource})" if check.resource else ""
    return (
        f"[{STYLE[check.status]}]{check.status.value}[/] {escape(check.family)}: {escape(check.name)}{escape(where)}: "
        f"{escape(check.observed)}; expected {escape(check.expected)}"
    )


def render_report(console: Console, report: Report) -> None:
    """One row per check: status, family and check, resource, observed, expected; then the counts."""
    from rich.table import Table

    table = Table(title=f"Verification of {report.stack}", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("status", "check", "resource", "observed", "expected"):
        table.add_column(column, overflow="fold")
    for check in report.checks:
        style = STYLE[check.status]
        table.add_row(
            f"[{style}]{check.status.value.upper()}[/]",
            escape(f"{check.family}: {check.name}"),
            escape(check.resource),
            escape(check.observed),
            escape(check.expected),
        )
    console.print(table)
    for check in report.checks:
        if check.status is not Status.PASS:
            console.print(problem_line(check), soft_wrap=True)
    colour = "red" if not report.ok else "yellow" if report.count(Status.WARN) else "green"
    console.print(f"[bold {colour}]{escape(report.stack)}[/]: {summary_line(report)}")
