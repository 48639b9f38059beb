"""Terminal views on stderr: the plan as a tree, the diff with risks in red, the policy table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from cli.plan.diff import PlanDiff
    from cli.plan.policy.evaluate import PolicyReport

_SEVERITY_STYLE = {"pass": "green", "error": "bold red", "warning": "yellow", "advisory": "cyan"}


def render_plan(console: Console, plan: dict[str, Any]) -> None:
    """Components with their children; protected resources marked."""
    from rich.markup import escape
    from rich.tree import Tree

    resources = plan["resources"]
    children: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        children.setdefault(r["parent"], []).append(r)
    known = {r["urn"] for r in resources}
    root = Tree(
        f"[bold]{escape(plan['stack'])}[/] · {plan['resource_count']} resources "
        f"({plan['cloud_resource_count']} cloud resources, the rest components and providers)"
    )

    def add(node: Tree, r: dict[str, Any]) -> None:
        mark = " [magenta]protected[/]" if r["options"].get("protect") else ""
        branch = node.add(f"{escape(r['name'])} [dim]{escape(r['type'])}[/]{mark}")
        for child in children.get(r["urn"], []):
            add(branch, child)

    for r in resources:
        if r["parent"] not in known:
            add(root, r)
    console.print(root)


def render_settings(console: Console, document: dict[str, Any]) -> None:
    """Each setting's effective value and where it came from."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{document['stack']} settings ({document['file']})", title_justify="left")
    for column in ("key", "value", "source"):
        table.add_column(column)
    for row in document["settings"]:
        value = (
            "unset"
            if row["value"] is None
            else str(row["value"]).lower()
            if isinstance(row["value"], bool)
            else str(row["value"])
        )
        source = f"file line {row['line']}" if row["source"] == "file" and row["line"] else row["source"]
        style = "" if row["source"] == "file" else "dim"
        table.add_row(escape(row["key"]), escape(value), source, style=style)
    console.print(table)


def render_diff(console: Console, diff: PlanDiff, base_label: str) -> None:
    """Added, removed and changed resources, then the risks."""
    from rich.markup import escape

    console.print(f"[bold]Diff against {escape(base_label)}[/]")
    if diff.empty:
        console.print("no changes")
    for r in diff.added:
        console.print(f"[green]+ {escape(r['urn'])}[/]")
    for r in diff.removed:
        console.print(f"[red]- {escape(r['urn'])}[/]")
    for c in diff.changed:
        label = "[magenta]+- replace[/]" if c.replaced_by else "[yellow]~ update[/]"
        console.print(f"{label} {escape(c.urn)}")
        for p in c.changes:
            before, after = p.shown()
            console.print(f"    {escape(p.path)}: {escape(before)} → {escape(after)}")
    for risk in diff.risks:
        console.print(f"[bold red]risk ({risk.kind}):[/] {escape(risk.urn)}: {escape(risk.message)}")


def render_policy(console: Console, report: PolicyReport) -> None:
    """One row per control, then the findings that are not passes."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Policy on {report.stack}" + (" (production)" if report.production else ""))
    for column in ("id", "control", "level", "status", "findings"):
        table.add_column(column)
    for r in report.results:
        style = _SEVERITY_STYLE[r.status]
        table.add_row(
            r.control.id, escape(r.control.title), r.control.level, f"[{style}]{r.status}[/]", str(len(r.findings))
        )
    console.print(table)
    for r in report.results:
        for f in r.findings:
            style = _SEVERITY_STYLE[f.severity]
            console.print(f"[{style}]{f.severity}[/] {r.control.id} {escape(f.urn or '(plan)')}: {escape(f.message)}")
    counts = report.counts()
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()))
