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
    from cli.plan.policy.pack_gate import PolicyGate
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


def preview(
    engine: Engine,
    target: Target,
    console: Console,
    *,
    diff: bool,
    spinner: bool,
    policy: PolicyGate | None = None,
) -> ChangeReport:
    """What `up` would change; with a policy gate, the engine also runs the pack and a mandatory violation stops."""

    def run(on_event: Callable[[Any], None]) -> None:
        if policy is None:
            return engine.preview(target.stack, on_event, diff=diff)
        with policy.enforcing(before_changes=True):
            return engine.preview(target.stack, policy.watch(on_event), diff=diff, policy=policy.packs)

    report, _ = drive("preview", target.stack, console, spinner, run)
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
    policy: PolicyGate | None = None,
) -> UpOutcome:
    """Preview (the policy gate: a mandatory violation stops here), confirm, apply, and collect the outputs."""
    plan = preview(engine, target, console, diff=False, spinner=spinner, policy=policy)
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

    def apply(on_event: Callable[[Any], None]) -> dict[str, StackOutput]:
        if policy is None:
            return engine.up(target.stack, on_event)
        with policy.enforcing(before_changes=False):
            return engine.up(target.stack, policy.watch(on_event), policy=policy.packs)

    applied, outputs = drive("up", target.stack, console, spinner, apply)
    return UpOutcome(plan=plan, applied=applied, outputs=outputs)


def refresh(engine: Engine, target: Target, console: Console, *, spinner: bool) -> ChangeReport:
    """Bring the state in line with what exists in the cloud."""
    report, _ = drive(
        "refresh", target.stack, console, spinner, lambda on_event: engine.refresh(target.stack, on_event)
    )
    return report
