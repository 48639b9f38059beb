"""Preview, up and refresh: drive the engine, track its events, and decide what the result means."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cli.changes import ChangeReport
from cli.errors import ConfirmationRefused, InfraError
from cli.progress import LiveProgress
from cli.stack_info import masked_outputs

if TYPE_CHECKING:
    from rich.console import Console

    from cli.engine import Engine, StackOutput
    from cli.target import Target


def drive(
    kind: str, stack: str, console: Console, spinner: bool, run: Callable[[LiveProgress], Any]
) -> tuple[ChangeReport, Any]:
    """Run one engine call with live progress; a failure carries the partial report for --json."""
    report = ChangeReport(kind=kind, stack=stack)
    progress = LiveProgress(report, console, spinner=spinner, planning=kind.startswith("preview"))
    try:
        with progress:
            result = run(progress)
    except InfraError as exc:
        if report.started or report.resources or report.diagnostics:
            exc.details.setdefault("report", report.to_json())
        raise
    return report, result


def preview(engine: Engine, target: Target, console: Console, *, diff: bool, spinner: bool) -> ChangeReport:
    """What `up` would change."""
    report, _ = drive(
        "preview",
        target.stack,
        console,
        spinner,
        lambda on_event: engine.preview(target.stack, on_event, diff=diff),
    )
    return report


@dataclass
class UpOutcome:
    """A preview, the applied update (None when nothing changed), and the stack outputs."""

    plan: ChangeReport
    applied: ChangeReport | None
    outputs: dict[str, StackOutput] = field(default_factory=dict)

    def to_json(self, show_secrets: bool = False) -> dict[str, Any]:
        values, hidden = masked_outputs(self.outputs, show_secrets)
        return {
            "ok": True,
            "stack": self.plan.stack,
            "preview": self.plan.to_json(),
            "applied": self.applied.to_json() if self.applied else None,
            "outputs": values,
            "secrets_hidden": hidden,
        }


def up(
    engine: Engine,
    target: Target,
    console: Console,
    *,
    yes: bool,
    interactive: bool,
    spinner: bool,
    ask: Callable[[str], bool],
    show_plan: Callable[[ChangeReport], None],
) -> UpOutcome:
    """Preview, confirm, apply with live progress, and collect the outputs."""
    plan = preview(engine, target, console, diff=False, spinner=spinner)
    show_plan(plan)
    if not plan.has_changes:
        return UpOutcome(plan=plan, applied=None, outputs=engine.outputs(target.stack))
    if not yes:
        if not interactive:
            raise ConfirmationRefused(
                f"not applying to {target.stack!r}: confirmation needed and stdin is not a terminal",
                hint=f"review the preview, then run `infra up --stack {target.stack} --yes`",
                details={"preview": plan.to_json()},
            )
        if not ask(f"Apply these changes to {target.stack}?"):
            raise ConfirmationRefused("cancelled; nothing was changed", hint="run the command again when ready")
    applied, outputs = drive("up", target.stack, console, spinner, lambda on_event: engine.up(target.stack, on_event))
    return UpOutcome(plan=plan, applied=applied, outputs=outputs)


def refresh(engine: Engine, target: Target, console: Console, *, spinner: bool) -> ChangeReport:
    """Bring the state in line with what exists in the cloud."""
    report, _ = drive(
        "refresh", target.stack, console, spinner, lambda on_event: engine.refresh(target.stack, on_event)
    )
    return report
