"""Resolve `--stack` into a target, local or cloud, with one set of verbs: the commands never branch on `local`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.errors import NotAvailable, StackNotFound, StackSettingsInvalid
from cli.options import LOCAL_STACK
from cli.project import configured_stacks, stack_config_path

if TYPE_CHECKING:
    from cli.commands.context import Session

STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Target:
    """A cloud stack the CLI can drive."""

    stack: str
    project_dir: Path
    protect: bool
    region: str | None
    settings: Any


def _stack_hint(project_dir: Path) -> str:
    names = [n for n in configured_stacks(project_dir) if n != LOCAL_STACK]
    return "use " + " or ".join(f"--stack {n}" for n in names) if names else "add a Pulumi.<stack>.yaml"


def ensure_not_local(stack: str, project_dir: Path) -> None:
    """Refuse the embedded `local` target for the commands that only make sense on a cloud stack."""
    if stack == LOCAL_STACK:
        raise NotAvailable(
            "this command works on cloud stacks, not on the local stack (processes on this machine)",
            hint=_stack_hint(project_dir) + "; for the local stack use "
            "`infra up|preview|status|logs|outputs|smoke|destroy --stack local`",
        )


def ensure_local(stack: str, verb: str) -> None:
    """Refuse a cloud stack for the commands that only the local stack has."""
    if stack != LOCAL_STACK:
        raise NotAvailable(
            f"`infra {verb}` is for the local stack (processes on this machine), not {stack!r}",
            hint=f"use `infra {verb} --stack local`; for a cloud stack, `infra verify --stack {stack}` checks it",
        )


def load_settings(stack: str, project_dir: Path) -> Any:
    """Load and validate a stack's settings, turning a bad value into a configuration error."""
    from stacks.settings import SettingsError, load_stack_settings

    try:
        return load_stack_settings(stack, project_dir)
    except SettingsError as exc:
        key = getattr(exc, "key", None)
        value = getattr(exc, "value", None)
        allowed = getattr(exc, "allowed", None)
        line = getattr(exc, "line", None)
        name = stack_config_path(project_dir, stack).name
        where = name + (f" line {line}" if line else "")
        hint = f"fix {key} in {where}" if key else f"fix {where}"
        if allowed:
            hint += f"; allowed: {allowed} (docs/settings.md)"
        setting = {"key": _printable(key), "value": _printable(value), "allowed": allowed, "file": name, "line": line}
        raise StackSettingsInvalid(
            f"stack {stack!r} settings are invalid: {exc}", hint=hint, details={"setting": setting}
        ) from None


def effective_settings(stack: str, project_dir: Path) -> dict[str, Any]:
    """Every setting of a stack with its effective value and its source (`file` with a line, or `default`)."""
    from stacks.settings import REDACTED, SettingsError, effective

    load_settings(stack, project_dir)  # a bad file is the same exit-2 error as everywhere else
    try:
        rows = effective(stack, project_dir)
    except SettingsError as exc:  # pragma: no cover - load_settings refused it already
        raise StackSettingsInvalid(str(exc)) from None
    settings = []
    for row in rows:
        spec = row.setting
        hidden = spec is not None and spec.secret_ok and row.value is not None
        settings.append(
            {
                "key": row.key,
                "value": REDACTED if hidden else _printable(row.value),
                "source": row.source,
                "line": row.line,
                "allowed": spec.kind.allowed if spec else None,
                "feeds": list(spec.feeds) if spec else [],
            }
        )
    return {"stack": stack, "file": stack_config_path(project_dir, stack).name, "settings": settings}


def _printable(value: Any) -> Any:
    from stacks.stack_file import SHOWN_CHARACTERS

    if isinstance(value, str) and len(value) > SHOWN_CHARACTERS:
        return f"{value[:SHOWN_CHARACTERS]}... ({len(value)} characters)"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_printable(v) for v in value]
    return str(value)


def resolve_target(stack: str, project_dir: Path) -> Target:
    """Check the stack name, refuse `local`, require a config file, and load its settings."""
    ensure_not_local(stack, project_dir)
    if not STACK_NAME.match(stack):
        raise StackNotFound(
            f"{stack!r} is not a valid stack name",
            hint="stack names use letters, digits, '-', '_' and '.'",
        )
    config = stack_config_path(project_dir, stack)
    if not config.is_file():
        raise StackNotFound(
            f"stack {stack!r} has no configuration file ({config.name})",
            hint=_stack_hint(project_dir) + f", or create {config.name}",
        )
    settings = load_settings(stack, project_dir)
    return Target(
        stack=stack,
        project_dir=project_dir,
        protect=bool(getattr(settings, "protect", False)),
        region=getattr(settings, "region", None),
        settings=settings,
    )


class CloudTarget(Target):
    """A cloud stack behind the Automation API: each verb renders to the console and returns its JSON document."""

    def preview(self, session: Session, *, diff: bool, skip_policy: bool = False) -> dict[str, Any]:
        from cli import operations
        from cli.plan.policy.pack_gate import open_gate, skipped_json
        from cli.render import render_changes, render_diagnostics

        with open_gate(self, skip=skip_policy, console=session.console) as gate:
            report = operations.preview(
                session.engine(), self, session.console, diff=diff, spinner=session.spinner, policy=gate
            )
        render_changes(session.console, report, title=f"Preview of {self.stack}", show_diff=diff)
        render_diagnostics(session.console, report)
        if gate is not None:
            gate.render(session.console)
        verdict = gate.to_json() if gate is not None else skipped_json()
        return {"ok": True, "changes_present": report.has_changes, **report.to_json(), "policy": verdict}

    def up(
        self, session: Session, *, yes: bool, smoke: bool, verify: bool, skip_policy: bool = False
    ) -> dict[str, Any]:
        import typer

        from cli import operations
        from cli.plan.policy.pack_gate import open_gate, skipped_json
        from cli.render import done_line, render_changes, render_diagnostics, render_outputs
        from cli.stack_info import masked_outputs

        console = session.console

        def show_plan(plan: Any) -> None:
            render_changes(console, plan, title=f"Changes to {self.stack}")
            if gate is not None:
                gate.render(console)

        with open_gate(self, skip=skip_policy, console=console) as gate:
            outcome = operations.up(
                session.engine(),
                self,
                console,
                yes=yes,
                interactive=session.interactive,
                spinner=session.spinner,
                ask=lambda text: typer.confirm(text, default=False, err=True),
                show_plan=show_plan,
                policy=gate,
            )
        if outcome.applied is None:
            console.print("no changes to apply")
        else:
            render_diagnostics(console, outcome.applied)
            console.print(f"[bold green]applied[/] {self.stack}: {done_line(outcome.applied.counts())}")
        values, hidden = masked_outputs(outcome.outputs, show_secrets=False)
        render_outputs(console, values)
        if hidden:
            console.print(f"[dim]{len(hidden)} secret output(s) hidden; see `infra outputs --show-secrets`[/]")
        document = {**outcome.to_json(), "policy": gate.to_json() if gate is not None else skipped_json()}
        if verify:
            from cli.verify.runner import verify_applied

            verify_applied(self, outcome.outputs, console, document)
        if smoke:
            from cli.smoke.flow import smoke_applied

            smoke_applied(self, outcome.outputs, console, document)
        return document

    def destroy(
        self, session: Session, *, yes: bool, confirm_stack: str | None, show_plan: Callable[..., None]
    ) -> dict[str, Any]:
        from cli import teardown
        from cli.render import render_diagnostics

        console = session.console
        outcome = teardown.destroy(
            session.engine(),
            self,
            console,
            spinner=session.spinner,
            show_plan=lambda plan: show_plan(console, plan, self.protect),
            approve=lambda plan: _confirm(self.stack, self.protect, session, yes=yes, confirm_stack=confirm_stack),
        )
        if outcome.report is not None:
            render_diagnostics(console, outcome.report)
            console.print(f"[bold]destroyed[/] {len(outcome.destroyed())} resource(s) in {self.stack}")
            for snap in outcome.plan.snapshots:
                if snap.snapshot:
                    console.print(f"final snapshot: [bold]{snap.snapshot}[/] (of {snap.database})")
        return outcome.to_json()

    def outputs(self, session: Session) -> dict[str, Any]:
        return session.engine().outputs(self.stack)

    def status(self, session: Session) -> dict[str, Any]:
        ensure_local(self.stack, "status")
        return {}

    def logs(self, session: Session, service: str | None, lines: int) -> dict[str, list[str]]:
        ensure_local(self.stack, "logs")
        return {}


def _no_pack_here(session: Session, skip_policy: bool) -> None:
    """The local stack has no engine to run the policy pack; say so rather than pretend to skip it."""
    if skip_policy:
        session.console.print(
            "[dim]the local stack runs no policy pack (no engine); `infra policy --stack local` checks its plan[/]"
        )


@dataclass(frozen=True)
class LocalTarget:
    """The local stack: the program's plan realised on this machine's processes (cli/local)."""

    project_dir: Path
    stack: str = LOCAL_STACK
    protect: bool = False

    def preview(self, session: Session, *, diff: bool, skip_policy: bool = False) -> dict[str, Any]:
        from cli.local import verbs

        _no_pack_here(session, skip_policy)
        document = verbs.preview(self.project_dir, session.console)
        return {"ok": True, "changes_present": bool(document["changes"]), **document}

    def up(
        self, session: Session, *, yes: bool, smoke: bool, verify: bool, skip_policy: bool = False
    ) -> dict[str, Any]:
        """Nothing to confirm: nothing leaves this machine."""
        from cli.local import verbs

        _no_pack_here(session, skip_policy)
        if verify:
            raise NotAvailable(
                "--verify checks a cloud stack through the AWS APIs; the local stack has none",
                hint="use `infra status --stack local`, or `--smoke` for an end-to-end check",
            )
        document = verbs.up(self.project_dir, session.console, spinner=session.spinner)
        if smoke:
            verbs.smoke_after_up(self.project_dir, session.console, document)
        return document

    def destroy(
        self, session: Session, *, yes: bool, confirm_stack: str | None, show_plan: Callable[..., None]
    ) -> dict[str, Any]:
        from cli.local import verbs

        return verbs.destroy(
            self.project_dir,
            session.console,
            approve=lambda: _confirm(self.stack, False, session, yes=yes, confirm_stack=confirm_stack),
        )

    def outputs(self, session: Session) -> dict[str, Any]:
        from cli.local import verbs

        return verbs.outputs(self.project_dir)

    def status(self, session: Session) -> dict[str, Any]:
        from cli.local import verbs

        return verbs.status(self.project_dir, session.console)

    def logs(self, session: Session, service: str | None, lines: int) -> dict[str, list[str]]:
        from cli.local import verbs

        return verbs.logs(self.project_dir, service, lines)


def _confirm(stack: str, protect: bool, session: Session, *, yes: bool, confirm_stack: str | None) -> str:
    import typer

    from cli import teardown

    return teardown.confirm(
        stack,
        protect,
        yes=yes,
        confirm_stack=confirm_stack,
        interactive=session.interactive,
        ask_name=lambda text: typer.prompt(text, default="", show_default=False, err=True),
        ask_yes=lambda text: typer.confirm(text, default=False, err=True),
    )


def resolve(stack: str, project_dir: Path) -> CloudTarget | LocalTarget:
    """The target a stack name stands for: the local stack, or a cloud stack with validated settings."""
    if stack == LOCAL_STACK:
        return LocalTarget(project_dir)
    target = resolve_target(stack, project_dir)
    return CloudTarget(**{f.name: getattr(target, f.name) for f in fields(Target)})
