"""A cloud stack behind the Automation API: every verb of the backend interface, rendered and returned as JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cli.core.errors import ConfigError, NotAvailable
from cli.core.stack_ref import StackRef

if TYPE_CHECKING:
    from rich.console import Console

    from cli.backend import Board
    from cli.cloud.engine import Engine
    from cli.cloud.teardown import DestroyPlan
    from cli.core.checks import Check
    from cli.core.outputs import StackOutput
    from cli.core.session import Session
    from cli.recovery.drill import DrillReport
    from cli.smoke.endpoint import ServiceEndpoint
    from cli.verify.model import Report


class CloudBackend:
    """A configured cloud stack; the engine is created on first use, so refusals cost no Pulumi start-up."""

    def __init__(self, ref: StackRef):
        self.ref = ref
        self._engine: Engine | None = None

    @property
    def stack(self) -> str:
        return self.ref.stack

    @property
    def protect(self) -> bool:
        return self.ref.protect

    def engine(self) -> Engine:
        if self._engine is None:
            from cli.cloud import engine

            self._engine = engine.create_engine(self.ref.project_dir)
        return self._engine

    def preview(self, session: Session, *, diff: bool, skip_policy: bool = False) -> dict[str, Any]:
        from cli.cloud import operations
        from cli.cloud.policy_gate import open_gate, skipped_json
        from cli.core.render import render_changes, render_diagnostics

        with open_gate(self.ref, skip=skip_policy, console=session.console) as gate:
            report = operations.preview(
                self.engine(), self.ref, session.console, diff=diff, spinner=session.spinner, policy=gate
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
        from cli.cloud import operations
        from cli.cloud.policy_gate import open_gate, skipped_json
        from cli.cloud.release_step import release_applied
        from cli.core.outputs import masked_outputs
        from cli.core.render import done_line, render_changes, render_diagnostics, render_outputs

        console = session.console

        def show_plan(plan: Any) -> None:
            render_changes(console, plan, title=f"Changes to {self.stack}")
            if gate is not None:
                gate.render(console)

        with open_gate(self.ref, skip=skip_policy, console=console) as gate:
            outcome = operations.up(
                self.engine(),
                self.ref,
                console,
                yes=yes,
                interactive=session.interactive,
                spinner=session.spinner,
                ask=session.ask_yes,
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
        values = {name: item.value for name, item in outcome.outputs.items()}
        document["release"] = release_applied(
            self.ref,
            values,
            console,
            applied=outcome.applied is not None,
            project=_project_name(self.ref.project_dir),
        )
        if verify:
            from cli.verify.runner import verify_applied

            verify_applied(self.ref, outcome.outputs, console, document)
        if smoke:
            from cli.smoke.flow import smoke_applied

            smoke_applied(self.stack, self._smoke_target(outcome.outputs, None, None), console, document)
        return document

    def destroy(self, session: Session, *, yes: bool, confirm_stack: str | None) -> dict[str, Any]:
        from cli.cloud import teardown
        from cli.core.confirm import confirm_destroy
        from cli.core.render import render_diagnostics

        console = session.console
        outcome = teardown.destroy(
            self.engine(),
            self.ref,
            console,
            spinner=session.spinner,
            show_plan=lambda plan: _show_destroy_plan(console, plan, self.protect),
            approve=lambda plan: confirm_destroy(
                self.stack,
                self.protect,
                yes=yes,
                confirm_stack=confirm_stack,
                interactive=session.interactive,
                ask_name=session.ask_text,
                ask_yes=session.ask_yes,
            ),
        )
        if outcome.report is not None:
            render_diagnostics(console, outcome.report)
            console.print(f"[bold]destroyed[/] {len(outcome.destroyed())} resource(s) in {self.stack}")
            for snap in outcome.plan.snapshots:
                if snap.snapshot:
                    console.print(f"final snapshot: [bold]{snap.snapshot}[/] (of {snap.database})")
        return outcome.to_json()

    def refresh(self, session: Session) -> dict[str, Any]:
        from cli.cloud import operations
        from cli.core.render import render_changes, render_diagnostics

        report = operations.refresh(self.engine(), self.ref, session.console, spinner=session.spinner)
        render_changes(session.console, report, title=f"Drift recorded in {self.stack}")
        render_diagnostics(session.console, report)
        return {"ok": True, **report.to_json()}

    def outputs(self, session: Session) -> dict[str, StackOutput]:
        return self.engine().outputs(self.stack)

    def status(self, session: Session) -> dict[str, Any]:
        raise _local_only(self.stack, "status")

    def logs(self, session: Session, service: str | None, lines: int) -> dict[str, list[str]]:
        raise _local_only(self.stack, "logs")

    def follow_logs(self, session: Session, service: str | None) -> Iterator[tuple[str, str]]:
        raise _local_only(self.stack, "logs")

    def doctor(self, session: Session) -> list[Check]:
        from cli.cloud.doctor import run_checks

        return run_checks(self.ref.project_dir)

    def dashboard(self, session: Session) -> Board:
        raise _local_only(self.stack, "dashboard")

    def verify(self, session: Session) -> Report:
        from cli.verify.runner import verify_target

        return verify_target(self.ref, self.outputs(session))

    def restore(
        self,
        session: Session,
        *,
        into: str,
        to: datetime | None,
        snapshot: str | None,
        switch: bool,
        confirm_stack: str | None,
    ) -> dict[str, Any]:
        from cli.recovery.cloud import restore_instance
        from cli.recovery.confirm import confirm_switch

        confirmed = None
        if switch:
            confirmed = confirm_switch(
                self.stack,
                self.protect,
                confirm_stack=confirm_stack,
                interactive=session.interactive,
                ask_name=session.ask_text,
            )
        values = {name: item.value for name, item in self.outputs(session).items()}
        result = restore_instance(self.ref, values, session.console, into=into, to=to, snapshot=snapshot, switch=switch)
        return {"ok": True, "stack": self.stack, "confirmed_by": confirmed, **result}

    def service_endpoint(self, session: Session, *, token: str | None, ca_file: str | None) -> ServiceEndpoint:
        return self._smoke_target(self.outputs(session), token, ca_file)

    def _smoke_target(self, outputs: dict[str, StackOutput], token: str | None, ca_file: str | None) -> ServiceEndpoint:
        """The service with tokens of the stack's pool: the machine client's for the writes, a read-only one and
        the smoke user's (when `infra token --user infra-smoke` created it once) for the authorization checks."""
        from cli.core.tokens import READ_SCOPE, SMOKE_USER
        from cli.smoke.access import AccessTokens
        from cli.smoke.endpoint import from_stack

        identity = self._identity(outputs)
        access = None
        if token is None and identity is not None:
            token = identity.machine_token()["access_token"]
            limited = identity.machine_token((READ_SCOPE,))
            try:  # never created here: creating a user in a cloud pool is asked for (`infra token`)
                user = identity.user_token(SMOKE_USER, confirm=lambda question: False)
            except ConfigError as exc:  # the skipped checks carry the reason
                hint = f"{exc}; run `infra token --stack {self.stack} --user {SMOKE_USER}` once for these checks"
                access = AccessTokens(None, "", limited["access_token"], limited["sub"], hint=hint)
            else:
                access = AccessTokens(user["access_token"], user["sub"], limited["access_token"], limited["sub"])
        return from_stack(self.ref, outputs, token=token, ca_file=ca_file, access=access)

    def token(
        self, session: Session, *, user: str | None, client: bool, scopes: tuple[str, ...], yes: bool
    ) -> dict[str, Any]:
        identity = self._identity(self.outputs(session))
        if identity is None:
            raise NotAvailable(
                f"stack {self.stack!r} trusts an issuer of your own (oidcIssuer); it has no user pool to ask",
                hint="get tokens from that issuer",
            )
        if client:
            return identity.machine_token(scopes)
        assert user is not None
        return identity.user_token(
            user, confirm=lambda question: yes or (session.interactive and session.ask_yes(question))
        )

    def _identity(self, outputs: dict[str, StackOutput]):
        """The stack's user pool as its outputs name it, or None when it trusts an issuer of its own."""
        from cli.cloud.identity_tokens import CloudIdentity
        from cli.verify.aws import client_factory
        from stacks import outputs as names

        values = {name: item.value for name, item in outputs.items()}
        if not values.get(names.USER_POOL_ID):
            return None
        return CloudIdentity(self.stack, values, client_factory(self.ref.region or values.get(names.REGION) or ""))

    def drill(self, session: Session, *, progress: Callable[[str], None]) -> DrillReport:
        from cli.recovery.cloud import cloud_drill

        outputs = self.outputs(session)
        identity = self._identity(outputs)
        if identity is None:
            raise NotAvailable(
                f"the drill writes through the API, and stack {self.stack!r} trusts an issuer of your own",
                hint="run the drill on a stack with its own user pool",
            )
        return cloud_drill(self.ref, outputs, token=identity.machine_token()["access_token"], progress=progress)

    def run(
        self, session: Session, command: list[str], *, service: str | None, on_line: Callable[[str], None]
    ) -> dict[str, Any]:
        from cli.cloud.one_off import run_in_stack

        values = {name: item.value for name, item in self.outputs(session).items()}
        return run_in_stack(self.stack, values, command, service=service, on_line=on_line, console=session.console)

    def watcher(self, session: Session) -> Callable[[], None]:
        raise NotAvailable(
            "--watch restarts local processes as their sources change; a cloud stack is changed by `infra up` alone",
            hint="use `infra up --stack local --watch` while editing, and `infra up` for this stack",
        )

    def releases(self, session: Session) -> dict[str, Any]:
        from cli.cloud import release_store
        from cli.core.releases import render
        from cli.verify.aws import client_factory

        name = release_store.parameter_name(_project_name(self.ref.project_dir), self.stack)
        found = release_store.load(client_factory(self.ref.region or "")("ssm"), name)
        render(session.console, found)
        return {"ok": True, "stack": self.stack, "store": f"ssm:{name}", "releases": [r.to_json() for r in found]}

    def rollback(self, session: Session, *, to: str | None, yes: bool) -> dict[str, Any]:
        from cli.cloud.rollback import rollback_stack
        from cli.core.confirm import confirm_rollback
        from cli.verify.aws import client_factory
        from stacks import outputs as names

        values = {name: item.value for name, item in self.outputs(session).items()}
        return rollback_stack(
            self.stack,
            values,
            session.console,
            to=to,
            project=_project_name(self.ref.project_dir),
            confirm=lambda what: confirm_rollback(
                self.stack, yes=yes, interactive=session.interactive, ask_yes=session.ask_yes, what=what
            ),
            client=client_factory(str(values.get(names.REGION) or self.ref.region or "")),
        )


def _project_name(project_dir: Any) -> str:
    import yaml

    return str(yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"])


def _local_only(stack: str, verb: str) -> NotAvailable:
    return NotAvailable(
        f"`infra {verb}` is for the local stack (processes on this machine), not {stack!r}",
        hint=f"use `infra {verb} --stack local`; for a cloud stack, `infra verify --stack {stack}` checks it",
    )


def _show_destroy_plan(console: Console, plan: DestroyPlan, protected_stack: bool) -> None:
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
