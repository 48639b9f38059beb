"""`infra destroy`: list what goes and what holds data, demand the right confirmation, then delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.options import JsonOption, StackOption

if TYPE_CHECKING:
    from rich.console import Console

    from cli.teardown import DestroyPlan


def show_plan(console: Console, plan: DestroyPlan, protected_stack: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    if not plan.resources:
        console.print(f"{plan.stack}: the state holds no resources; nothing to destroy")
        return
    table = Table(title=f"Destroying {plan.stack} deletes", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("resource", "type", "note"):
        table.add_column(column)
    for item in plan.resources:
        notes = []
        if item.data_kind:
            notes.append(f"[bold red]holds data ({item.data_kind})[/]")
        if item.protect:
            notes.append("[bold]protected: kept[/]")
        table.add_row(escape(item.name), item.type, "; ".join(notes))
    console.print(table)
    console.print(f"[bold]{len(plan.deleted)}[/] to delete, [bold]{len(plan.kept)}[/] protected and kept")
    for snap in plan.snapshots:
        name = snap.snapshot or "none"
        console.print(f"final snapshot of {escape(snap.database)}: [bold]{escape(name)}[/] ({escape(snap.note)})")
    if protected_stack:
        console.print(f"[bold red]{plan.stack} is a protected stack.[/]")


def destroy(
    stack: StackOption = "local",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Skip the prompt (refused on protected stacks).")] = False,
    confirm_stack: Annotated[
        str | None,
        typer.Option("--confirm-stack", help="Confirm by naming the stack; the only non-interactive way for prod."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete the stack's resources; protected resources are kept and the final database snapshot is named."""
    from cli.commands.context import open_stack
    from cli.render import emit_json

    session, target = open_stack(stack, as_json=as_json)
    document = target.destroy(session, yes=yes, confirm_stack=confirm_stack, show_plan=show_plan)
    if as_json:
        emit_json(document)
