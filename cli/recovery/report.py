"""The drill's report three ways: lines on the terminal, the JSON document, and a Markdown file for the runbook."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cli.core.errors import ConfigError
from cli.core.files import write_private

if TYPE_CHECKING:
    from rich.console import Console

    from cli.recovery.drill import DrillReport


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def rows(report: DrillReport) -> list[tuple[str, str]]:
    """The report as (what, value) pairs, shared by the terminal and the Markdown file."""
    checks = "every row present" if not report.rows_missing else f"MISSING: {', '.join(report.rows_missing[:10])}"
    after = "none present" if not report.rows_after_present else f"PRESENT: {', '.join(report.rows_after_present)}"
    return [
        ("result", "PASS" if report.ok else "FAIL"),
        ("stack", report.stack),
        ("run", report.run),
        ("started", report.started_at),
        ("restore point", report.restore_point or "n/a"),
        ("marker", report.marker or "n/a"),
        ("rows written before the restore point (expected back)", f"{report.rows_expected}: {checks}"),
        (f"acknowledged writes after the restore point ({report.writes_after})", after),
        ("recovery point (restore point minus the newest row restored)", _seconds(report.recovery_point_s)),
        ("recovery time (restore start to first query on the restored database)", _seconds(report.recovery_time_s)),
        ("worst-case recovery point if the live disk is lost", _seconds(report.worst_case_recovery_point_s)),
        ("restored from", report.base_backup or "n/a"),
        ("WAL replayed", f"{len(report.segments)} segment(s)" if report.segments else "n/a"),
        ("throwaway", f"{report.throwaway} ({'removed' if report.throwaway_removed else 'NOT removed'})"),
    ]


def show(console: Console, report: DrillReport) -> None:
    from rich.markup import escape

    for what, value in rows(report):
        console.print(f"{what}: [bold]{escape(value)}[/]")
    if report.markdown:
        console.print(f"report: {escape(report.markdown)}")


def markdown(report: DrillReport, command: str) -> str:
    lines = [
        f"# Recovery drill {report.run} ({report.stack}): {'PASS' if report.ok else 'FAIL'}",
        "",
        f"Command: `{command}`",
        "",
        "| what | value |",
        "| --- | --- |",
    ]
    lines += [f"| {what} | {value.replace('|', '/')} |" for what, value in rows(report)]
    if report.failure:
        lines += ["", f"Failure: {report.failure}"]
    return "\n".join(lines) + "\n"


def prepare_dir(directory: Path) -> None:
    """Make sure the report can be written before the drill starts (it takes a while and writes data)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".drill-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"cannot write drill reports to {directory}: {exc.strerror or exc}",
            hint="pass --report-dir a writable directory",
        ) from None


def write_markdown(report: DrillReport, directory: Path, command: str) -> Path:
    """Write the report under `directory` as drill-<stack>-<run>.md; returns the path."""
    path = directory / f"drill-{report.stack}-{report.run}.md"
    try:
        write_private(path, markdown(report, command))
    except OSError as exc:
        raise ConfigError(
            f"cannot write the drill report {path}: {exc.strerror or exc}",
            hint="pass --report-dir a writable directory",
        ) from None
    report.markdown = str(path)
    return path
