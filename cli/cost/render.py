"""Estimates and deltas for people: a table on the terminal (stderr) and lines of markdown for pull requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cli.cost.estimate import Estimate, dollars

if TYPE_CHECKING:
    from rich.console import Console

    from cli.cost.delta import CostDelta


def render_estimate(console: Console, result: Estimate) -> None:
    """Priced resources by cost, then the unpriced with their reasons, the usage-priced and a count of the free."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"monthly estimate: {result.stack} ({result.region})", title_justify="left")
    for column, justify in (("resource", "left"), ("quantities", "left"), ("$/month", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    priced = sorted(result.of_status("priced", "partial"), key=lambda r: (-r.monthly, r.urn))
    for r in priced:
        quantities = "\n".join(
            f"{escape(line.label)}: {dollars(line.monthly)}"
            if line.monthly is not None
            else f"{escape(line.label)}: unpriced"
            for line in r.lines
        )
        table.add_row(f"{escape(r.name)}\n[dim]{escape(r.type)}[/]", quantities, dollars(r.monthly))
    console.print(table)
    word = "[yellow]partial[/] (some resources are unpriced)" if result.partial else "complete"
    console.print(f"[bold]total {dollars(result.total)}/month[/], {word}; 730 hours a month, on-demand list prices")
    for r in result.of_status("unpriced", "partial"):
        reasons = r.reason or "; ".join(sorted({line.reason for line in r.lines if line.reason}))
        console.print(f"[yellow]unpriced[/] {escape(r.name)} ({escape(r.type)}): {escape(reasons)}", soft_wrap=True)
    usage = result.of_status("usage")
    if usage:
        console.print(f"priced only by usage, not counted ({len(usage)}):")
        for r in usage:
            console.print(f"  {escape(r.name)} ({escape(r.type)}): {escape('; '.join(r.usage_notes))}", soft_wrap=True)
    console.print(f"[dim]free: {len(result.of_status('free'))} resources (IAM, networking, configuration)[/]")
    for region, origin in result.tables.items():
        console.print(f"[dim]prices for {region}: {escape(origin)}[/]", soft_wrap=True)


def render_delta(console: Console, delta: CostDelta) -> None:
    from rich.markup import escape

    console.print(f"[bold]{escape(delta.headline())}[/]")
    for kind in delta.kinds:
        colour = "red" if kind.change > 0 else "green"
        console.print(f"  [{colour}]{escape(kind.text())}[/]")


def delta_markdown(delta: CostDelta | None, problem: str = "") -> list[str]:
    """The cost section of a pull-request comment: the headline and a line per kind."""
    if delta is None:
        return [f"**Cost:** not estimated: {problem}", ""] if problem else []
    lines = [f"**Cost:** {delta.headline()}", ""]
    lines += [f"- {kind.text()}" for kind in delta.kinds]
    return [*lines, ""] if delta.kinds else lines
