"""The load report on the terminal (stderr): rates, percentiles, endpoints, errors by kind, warnings and gates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cli.loadgen.capacity import CapacityResult, step_row
from cli.loadgen.report import LoadSummary, percentiles

if TYPE_CHECKING:
    from rich.console import Console

COLUMNS = ("p50", "p90", "p95", "p99", "p99.9", "max")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def render_summary(console: Console, summary: LoadSummary) -> None:
    """Everything a person needs to judge one run, ending with the verdict."""
    from rich.table import Table

    options, merged = summary.options, summary.step.merged
    console.print(
        f"[bold]load[/] {_esc(summary.target_url)} ({_esc(summary.source)}): target {options.rate:g} req/s, "
        f"achieved [bold]{summary.achieved_rate:.1f}[/] req/s over {summary.elapsed_s:.1f} s "
        f"({summary.totals['sent']} sent, {summary.totals['warmup_sent']} in the warm-up), "
        f"{summary.step.processes} process(es), {summary.totals['connections']} connection(s) opened"
    )
    table = Table(title="latency (ms)", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("measured from")
    for name in COLUMNS:
        table.add_column(name, justify="right")
    for label, histogram in (("intended send", merged.latency), ("actual send", merged.service)):
        figures = percentiles(histogram)
        table.add_row(label, *(_ms(figures[name]) for name in COLUMNS))
    console.print(table)
    console.print(
        "[dim]intended send: what a user on the schedule waited (coordinated omission corrected); "
        "actual send: what a closed-loop tool would report[/]"
    )
    _endpoints(console, summary)
    _errors(console, summary)
    for warning in summary.warnings:
        console.print(f"[bold yellow]warning:[/] {_esc(warning)}")
    for note in summary.notes:
        console.print(f"[dim]note: {_esc(note)}[/]")
    for gate in summary.gate_results:
        mark = "[green]ok[/]" if gate.passed else "[bold red]BROKEN[/]"
        console.print(f"gate {gate.name:<7} {mark}  {_esc(gate.actual)} (limit {_esc(gate.limit)})")
    if summary.passed:
        console.print("[bold green]load run passed[/]")
    else:
        console.print("[bold red]load run failed[/]: " + ", ".join(g.name for g in summary.broken))


def _endpoints(console: Console, summary: LoadSummary) -> None:
    from rich.table import Table

    rows = summary.endpoints()
    if not rows:
        return
    table = Table(title="by endpoint (ms from intended send)", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("endpoint")
    for name in ("requests", "failed", "p50", "p95", "p99", "max"):
        table.add_column(name, justify="right")
    for name, row in rows.items():
        failed = f"[red]{row['failed']}[/]" if row["failed"] else "0"
        figures = [_ms(row.get(f"{p}_ms")) for p in ("p50", "p95", "p99", "max")]
        table.add_row(_esc(name), str(row["requests"]), failed, *figures)
    console.print(table)


def _errors(console: Console, summary: LoadSummary) -> None:
    from rich.table import Table

    errors, examples = summary.step.merged.errors, summary.step.merged.examples
    if not errors:
        return
    table = Table(title="errors by kind", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("kind", style="red")
    table.add_column("count", justify="right")
    table.add_column("example", overflow="fold")
    for kind in sorted(errors, key=lambda k: -errors[k]):
        table.add_row(kind, str(errors[kind]), _esc(" | ".join(examples.get(kind, []))))
    console.print(table)


def render_step(console: Console, summary: LoadSummary) -> None:
    """One line per capacity step, as it ends."""
    row = step_row(summary)
    verdict = "[green]held[/]" if row["held"] else "[red]broke[/]"
    why = []
    if row["broken"]:
        why.append("broken: " + ", ".join(row["broken"]))
    if row["generator_at_ceiling"]:
        why.append("[yellow]generator at its ceiling[/]")
    elif row["generator_behind"]:
        why.append("[yellow]generator late[/]")
    console.print(
        f"  {row['rate']:>9g}/s  achieved {row['achieved']:>9.1f}  p50 {_ms(row['p50_ms']):>7}  "
        f"p95 {_ms(row['p95_ms']):>7}  p99 {_ms(row['p99_ms']):>7} ms  errors {row['error_rate'] * 100:.2f} %  "
        f"{verdict} {'; '.join(why)}"
    )


def render_capacity(console: Console, result: CapacityResult) -> None:
    """The search's outcome: the highest rate that held, per task, and the tasks a target rate needs."""
    if result.held is None:
        console.print(f"[bold red]no rate held[/] the SLO ({_esc(result.stopped)})")
    else:
        broke = f", broke at {result.broke.options.rate:g}/s" if result.broke else ""
        console.print(
            f"[bold]capacity[/]: [bold green]{result.capacity:g} req/s[/] held the SLO{broke} "
            f"(search stopped: {_esc(result.stopped)})"
        )
        if result.per_task is not None:
            console.print(
                f"per task: {result.per_task:.1f} req/s over {result.search.tasks} task(s) "
                f"({_esc(result.search.tasks_source or 'given')})"
            )
        else:
            console.print("[dim]per task: unknown task count; pass --tasks N to divide the capacity[/]")
        if result.search.target_rate is not None:
            if result.tasks_needed is not None:
                console.print(
                    f"for {result.search.target_rate:g} req/s: [bold]{result.tasks_needed} task(s)[/] "
                    "at this rate per task"
                )
            verdict = "meets" if result.passed else "[bold red]is under[/]"
            console.print(f"the capacity {verdict} the target of {result.search.target_rate:g} req/s")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {_esc(note)}")
