"""The local stack: the program's plan realised on this machine's processes, behind the one backend interface."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.core.errors import ConfigError, NotAvailable
from cli.core.options import LOCAL_STACK
from cli.core.stack_ref import cloud_stack_hint
from cli.local import verbs

if TYPE_CHECKING:
    from cli.backend import Board
    from cli.core.checks import Check
    from cli.core.outputs import StackOutput
    from cli.core.session import Session
    from cli.recovery.drill import DrillReport
    from cli.smoke.endpoint import ServiceEndpoint
    from cli.verify.model import Report


class LocalBackend:
    """Nothing here leaves this machine, so nothing asks for the confirmations a cloud stack needs but destroy's."""

    def __init__(self, project_dir: Path):
        self.project_dir = project_dir

    @property
    def stack(self) -> str:
        return LOCAL_STACK

    @property
    def protect(self) -> bool:
        return False

    def preview(self, session: Session, *, diff: bool, skip_policy: bool = False) -> dict[str, Any]:
        _no_pack_here(session, skip_policy)
        document = verbs.preview(self.project_dir, session.console)
        return {"ok": True, "changes_present": bool(document["changes"]), **document}

    def up(
        self, session: Session, *, yes: bool, smoke: bool, verify: bool, skip_policy: bool = False
    ) -> dict[str, Any]:
        _no_pack_here(session, skip_policy)
        if verify:
            raise NotAvailable(
                "--verify checks a cloud stack through the AWS APIs; the local stack has none",
                hint="use `infra status --stack local`, or `--smoke` for an end-to-end check",
            )
        document = verbs.up(self.project_dir, session.console, spinner=session.spinner, started=session.started)
        if smoke:
            verbs.smoke_after_up(self.project_dir, session.console, document)
        return document

    def destroy(self, session: Session, *, yes: bool, confirm_stack: str | None) -> dict[str, Any]:
        from cli.core.confirm import confirm_destroy

        return verbs.destroy(
            self.project_dir,
            session.console,
            approve=lambda: confirm_destroy(
                self.stack,
                False,
                yes=yes,
                confirm_stack=confirm_stack,
                interactive=session.interactive,
                ask_name=session.ask_text,
                ask_yes=session.ask_yes,
            ),
        )

    def refresh(self, session: Session) -> dict[str, Any]:
        raise _cloud_only(self.project_dir)

    def outputs(self, session: Session) -> dict[str, StackOutput]:
        return verbs.outputs(self.project_dir)

    def status(self, session: Session) -> dict[str, Any]:
        return verbs.status(self.project_dir, session.output)

    def logs(self, session: Session, service: str | None, lines: int) -> dict[str, list[str]]:
        return verbs.logs(self.project_dir, service, lines)

    def follow_logs(self, session: Session, service: str | None) -> Iterator[tuple[str, str]]:
        return verbs.follow_logs(self.project_dir, service)

    def doctor(self, session: Session) -> list[Check]:
        from cli.local.doctor import run_checks

        return run_checks(self.project_dir)

    def dashboard(self, session: Session) -> Board:
        from cli.local.dashboard import Dashboard
        from cli.local.stack import stack_for

        local = stack_for(self.project_dir)
        if not any(state.state == "running" for state in local.status() if state.name == "api"):
            raise ConfigError("the local stack's API is not running", hint="run `infra up --stack local` first")
        return Dashboard(local)

    def verify(self, session: Session) -> Report:
        raise _cloud_only(self.project_dir)

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
        raise _cloud_only(self.project_dir, also="`infra drill --stack local` rehearses a restore of the local stack")

    def service_endpoint(self, session: Session, *, token: str | None, ca_file: str | None) -> ServiceEndpoint:
        return verbs.smoke_target(self.project_dir, token=token, ca_file=ca_file)

    def token(
        self, session: Session, *, user: str | None, client: bool, scopes: tuple[str, ...], yes: bool
    ) -> dict[str, Any]:
        # Nothing here leaves this machine: a user of the local pool is created without asking.
        return verbs.token(self.project_dir, user=user, client=client, scopes=scopes)

    def drill(self, session: Session, *, progress: Callable[[str], None]) -> DrillReport:
        from cli.local.drill import drill_inputs, drill_local

        cluster, api = drill_inputs(self.project_dir)
        return drill_local(cluster, api, stack=self.stack, progress=progress)

    def run(
        self, session: Session, command: list[str], *, service: str | None, on_line: Callable[[str], None]
    ) -> dict[str, Any]:
        from cli.local.one_off import run_local

        return run_local(self.project_dir, command, service=service, on_line=on_line, console=session.console)

    def watcher(self, session: Session) -> Callable[[], None]:
        from cli.local.watch import watch

        return lambda: watch(self.project_dir, session.console)

    def releases(self, session: Session) -> dict[str, Any]:
        return verbs.release_history(self.project_dir, session.console)

    def rollback(self, session: Session, *, to: str | None, yes: bool) -> dict[str, Any]:
        return verbs.rollback(self.project_dir, session, to=to, yes=yes)


def _no_pack_here(session: Session, skip_policy: bool) -> None:
    """The local stack has no engine to run the policy pack; say so rather than pretend to skip it."""
    if skip_policy:
        session.console.print(
            "[dim]the local stack runs no policy pack (no engine); `infra policy --stack local` checks its plan[/]"
        )


def _cloud_only(project_dir: Path, also: str = "") -> NotAvailable:
    return NotAvailable(
        "this command works on cloud stacks, not on the local stack (processes on this machine)",
        hint=cloud_stack_hint(project_dir)
        + "; for the local stack use `infra up|preview|status|logs|outputs|smoke|destroy --stack local`"
        + (f"; {also}" if also else ""),
    )
