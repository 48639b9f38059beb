"""The report on the terminal (stderr): pre-flight, results per endpoint, failures, a histogram and the gates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cli.smoke.preflight import FAIL, PASS, SKIP, WARN
from cli.smoke.stats import PERCENTILES, Summary, histogram

if TYPE_CHECKING:
    from rich.console import Console

    from cli.smoke.report import SmokeReport

_MARK = {PASS: "[green]pass[/]", WARN: "[yellow]warn[/]", FAIL: "[bold red]FAIL[/]", SKIP: "[dim]skip[/]"}
BAR_WIDTH = 40


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def render_report(console: Console, report: SmokeReport) -> None:
    """Everything a person needs to judge the run, ending with the verdict."""

    profile = f"profile {report.profile.name} ({report.profile.summary()})" if report.profile else "no profile"
    console.print(f"[bold]smoke[/] {_esc(report.target_url)} ({_esc(report.source)}), {profile}")

    _checks(console, "pre-flight", report.preflight)

    if report.samples:
        _results(console, report)
        _failures(console, report)
        _histogram(console, report)
        database = report.database()
        if database["samples"]:
            p50, peak = database["p50_ms"], database["max_ms"]
            console.print(f"database round trip (from /heartbeat): p50 {p50:.1f} ms, max {peak:.1f} ms")
        if report.service:
            console.print(
                f"service: {_esc(str(report.service.get('name')))} {_esc(str(report.service.get('version')))}"
            )
    elif report.ran_out:
        console.print(f"[bold red]no requests were made[/]: the deadline ran out during {report.ran_out}")
    else:
        console.print("[bold red]no requests were made[/]: the pre-flight checks found nothing to connect to")

    if report.checks:
        _checks(console, "backend checks", report.checks)

    for gate in report.gate_results:
        mark = "[green]ok[/]" if gate.passed else "[bold red]BROKEN[/]"
        console.print(f"gate {gate.name:<9} {mark}  {_esc(gate.actual)} (limit {_esc(gate.limit)})")
    if report.passed:
        console.print("[bold green]smoke check passed[/]")
    else:
        console.print("[bold red]smoke check failed[/]: " + ", ".join(g.name for g in report.broken))


def _checks(console: Console, title: str, items: list) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("check")
    table.add_column("result")
    table.add_column("ms", justify="right")
    table.add_column("detail", overflow="fold")
    for check in items:
        table.add_row(check.name, _MARK.get(check.status, check.status), _ms(check.duration_ms), _esc(check.summary))
    console.print(table)


def _row(name: str, summary: Summary) -> list[str]:
    failed = f"[red]{summary.failed}[/]" if summary.failed else "0"
    cells = [name, str(summary.requests), failed]
    cells += [_ms(summary.percentiles_ms[p]) for p in PERCENTILES]
    cells += [_ms(summary.max_ms), f"{summary.throughput_rps:.0f}"]
    return cells


def _results(console: Console, report: SmokeReport) -> None:
    from rich.table import Table

    title = f"{len(report.samples)} requests, concurrency {report.concurrency}, {report.wall_s * 1000:.0f} ms wall"
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("endpoint")
    for name in ("requests", "failed", *(f"p{p} ms" for p in PERCENTILES), "max ms", "req/s"):
        table.add_column(name, justify="right")
    for name, summary in report.endpoints().items():
        table.add_row(*_row(_esc(name), summary))
    table.add_row(*_row("[bold]overall[/]", report.overall), end_section=True)
    console.print(table)


def _failures(console: Console, report: SmokeReport) -> None:
    from rich.table import Table

    counts = report.overall.failures
    if not counts:
        return
    examples = report.failure_examples()
    table = Table(title="failures", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("class", style="red")
    table.add_column("count", justify="right")
    table.add_column("example", overflow="fold")
    for name in sorted(counts, key=lambda n: -counts[n]):
        table.add_row(name, str(counts[name]), _esc(" | ".join(examples.get(name, []))))
    console.print(table)


def _histogram(console: Console, report: SmokeReport) -> None:
    values = [s.latency_ms for s in report.samples if s.timed]
    bins = histogram(values)
    if not bins:
        return
    peak = max(count for _, _, count in bins) or 1
    console.print("latency distribution (ms)")
    for low, high, count in bins:
        bar = "█" * max(1 if count else 0, round(count / peak * BAR_WIDTH))
        console.print(f"  {low:8.1f} - {high:8.1f} | [cyan]{bar}[/] {count}")
