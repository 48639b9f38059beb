"""Preview, up and refresh: drive the engine, track its events, and decide what the result means."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cli.cloud import database_path
from cli.core.changes import ChangeReport
from cli.core.errors import ConfirmationRefused, InfraError
from cli.core.outputs import masked_outputs
from cli.core.progress import LiveProgress
from cli.core.render import done_line

if TYPE_CHECKING:
    from rich.console import Console

    from cli.cloud.engine import Engine, RunConfig
    from cli.cloud.policy_gate import PolicyGate
    from cli.core.outputs import StackOutput
    from cli.core.stack_ref import StackRef


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
    target: StackRef,
    console: Console,
    *,
    diff: bool,
    spinner: bool,
    policy: PolicyGate | None = None,
) -> ChangeReport:
    """What `up` would change: through the tunnel when the database objects are in the state; with a policy gate,
    the engine also runs the pack and a mandatory violation stops."""
    path = database_path.resolve(engine, target)
    if not path.objects_in_state:
        return _preview(engine, target, console, diff=diff, spinner=spinner, config=None, policy=policy)
    with database_path.opened(
        path, engine.outputs(target.stack), target.region, console, verb="preview", applying=False
    ) as values:
        return _preview(engine, target, console, diff=diff, spinner=spinner, config=values, policy=policy)


def _preview(
    engine: Engine,
    target: StackRef,
    console: Console,
    *,
    diff: bool,
    spinner: bool,
    config: RunConfig,
    policy: PolicyGate | None = None,
) -> ChangeReport:
    def run(on_event: Callable[[Any], None]) -> None:
        if policy is None:
            return engine.preview(target.stack, on_event, diff=diff, config=config)
        with policy.enforcing(before_changes=True):
            return engine.preview(target.stack, policy.watch(on_event), diff=diff, policy=policy.packs, config=config)

    report, _ = drive("preview", target.stack, console, spinner, run)
    return report


@dataclass
class UpOutcome:
    """A preview, the applied update (None when nothing changed), and the stack outputs."""

    plan: ChangeReport
    applied: ChangeReport | None
    outputs: dict[str, StackOutput] = field(default_factory=dict)
    phases: list[tuple[str, ChangeReport]] = field(default_factory=list)
    """The updates of a first deploy in two phases, by name; empty when one update did it all."""

    def to_json(self, show_secrets: bool = False) -> dict[str, Any]:
        values, hidden = masked_outputs(self.outputs, show_secrets)
        return {
            "ok": True,
            "stack": self.plan.stack,
            "preview": self.plan.to_json(),
            "applied": self.applied.to_json() if self.applied else None,
            "outputs": values,
            "secrets_hidden": hidden,
            "phases": [{"phase": name, "applied": report.to_json()} for name, report in self.phases],
        }


def up(
    engine: Engine,
    target: StackRef,
    console: Console,
    *,
    yes: bool,
    interactive: bool,
    spinner: bool,
    ask: Callable[[str], bool],
    show_plan: Callable[[ChangeReport], None],
    policy: PolicyGate | None = None,
) -> UpOutcome:
    """Preview (the policy gate: a mandatory violation stops here), confirm, apply, and collect the outputs.

    When the CLI reaches the database through the bastion, the tunnel is open around the preview and the update;
    on a first deploy, everything but the database objects is applied first, then the tunnel opens for the objects.
    """
    path = database_path.resolve(engine, target)

    def confirm(plan: ChangeReport) -> None:
        show_plan(plan)
        if yes or not plan.has_changes:
            return
        if not interactive:
            raise ConfirmationRefused(
                f"not applying to {target.stack!r}: confirmation needed and stdin is not a terminal",
                hint=f"review the preview, then run `infra up --stack {target.stack} --yes`",
                details={"preview": plan.to_json()},
            )
        if not ask(f"Apply these changes to {target.stack}?"):
            raise ConfirmationRefused("cancelled; nothing was changed", hint="run the command again when ready")

    def apply(config: RunConfig) -> tuple[ChangeReport, dict[str, StackOutput]]:
        def run(on_event: Callable[[Any], None]) -> dict[str, StackOutput]:
            if policy is None:
                return engine.up(target.stack, on_event, config=config)
            with policy.enforcing(before_changes=False):
                return engine.up(target.stack, policy.watch(on_event), policy=policy.packs, config=config)

        return drive("up", target.stack, console, spinner, run)

    def planned(config: RunConfig) -> ChangeReport:
        return _preview(engine, target, console, diff=False, spinner=spinner, config=config, policy=policy)

    if path.two_phase:
        return _up_in_two_phases(engine, target, console, path, plan=planned(None), confirm=confirm, apply=apply)
    if not path.tunnels:
        plan = planned(None)
        confirm(plan)
        if not plan.has_changes:
            return UpOutcome(plan=plan, applied=None, outputs=engine.outputs(target.stack))
        applied, outputs = apply(None)
        return UpOutcome(plan=plan, applied=applied, outputs=outputs)
    with database_path.opened(
        path, engine.outputs(target.stack), target.region, console, verb="up", applying=True
    ) as values:
        plan = planned(values)
        confirm(plan)
        if not plan.has_changes:
            return UpOutcome(plan=plan, applied=None, outputs=engine.outputs(target.stack))
        applied, outputs = apply(values)
    return UpOutcome(plan=plan, applied=applied, outputs=outputs)


def _up_in_two_phases(
    engine: Engine,
    target: StackRef,
    console: Console,
    path: database_path.DatabasePath,
    *,
    plan: ChangeReport,
    confirm: Callable[[ChangeReport], None],
    apply: Callable[[RunConfig], tuple[ChangeReport, dict[str, StackOutput]]],
) -> UpOutcome:
    """A first deploy: the plan of the whole stack, then the infrastructure, then the objects through the tunnel."""
    stack = target.stack
    confirm(plan)
    console.print(
        "[bold]phase 1 of 2[/]: everything but the database objects (network, database, bastion, service); "
        "a new stack usually takes 15 to 25 minutes"
    )
    try:
        first, outputs = apply(path.first_phase_values())
    except InfraError as exc:
        raise database_path.with_next_step(exc, stack, "up", applying=True) from exc
    console.print(f"[bold]phase 1 of 2 done[/]: {done_line(first.counts())}")
    console.print(
        "[bold]phase 2 of 2[/]: the database objects (roles, database, grants, default privileges) through the "
        "SSM tunnel; waiting for the new bastion to register with Session Manager usually takes 1 to 5 minutes"
    )
    with database_path.opened(path, outputs, target.region, console, verb="up", applying=True) as values:
        try:
            second, outputs = apply(values)
        except InfraError as exc:
            raise database_path.with_next_step(exc, stack, "up", applying=True) from exc
    console.print(f"[bold]phase 2 of 2 done[/]: {done_line(second.counts())}")
    return UpOutcome(
        plan=plan,
        applied=_combined(first, second),
        outputs=outputs,
        phases=[("infrastructure", first), ("database objects", second)],
    )


def _combined(first: ChangeReport, second: ChangeReport) -> ChangeReport:
    """Both updates as one: every step, and counts in which phase 1's results are not counted again as unchanged."""
    summary = None
    if first.summary is not None and second.summary is not None:
        summary = {op: first.summary.get(op, 0) + second.summary.get(op, 0) for op in {*first.summary, *second.summary}}
        done_before = sum(n for op, n in first.summary.items() if op not in ("same", "delete", "discard"))
        summary["same"] = max(0, second.summary.get("same", 0) - done_before)
    return ChangeReport(
        kind=second.kind,
        stack=second.stack,
        resources={**first.resources, **second.resources},
        diagnostics=[*first.diagnostics, *second.diagnostics],
        summary=summary,
        duration_seconds=(first.duration_seconds or 0) + (second.duration_seconds or 0),
        started=True,
    )


def refresh(engine: Engine, target: StackRef, console: Console, *, spinner: bool) -> ChangeReport:
    """Bring the state in line with what exists in the cloud; through the tunnel when the objects are in the state."""
    path = database_path.resolve(engine, target)

    def run(config: RunConfig) -> ChangeReport:
        report, _ = drive(
            "refresh",
            target.stack,
            console,
            spinner,
            lambda on_event: engine.refresh(target.stack, on_event, config=config),
        )
        return report

    if not path.objects_in_state:
        return run(None)
    with database_path.opened(
        path, engine.outputs(target.stack), target.region, console, verb="refresh", applying=False
    ) as values:
        return run(values)
