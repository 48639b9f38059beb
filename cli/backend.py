"""The one interface both backends implement in full (cloud and local), so no command branches on which it has."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cli.core.checks import Check
    from cli.core.outputs import StackOutput
    from cli.core.session import Session
    from cli.recovery.drill import DrillReport
    from cli.smoke.endpoint import ServiceEndpoint
    from cli.verify.model import Report


class Frame(Protocol):
    """One refresh of a dashboard's panels: panel title -> metric -> value."""

    panels: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]: ...


class Board(Protocol):
    """A live dashboard: each frame shows rates over the interval since the previous one."""

    def frame(self, interval: float) -> Frame: ...


class Backend(Protocol):
    """Every verb a stack has. Each returns its JSON document (or a result the command renders); a verb a backend
    cannot serve raises `NotAvailable` naming what to use instead."""

    @property
    def stack(self) -> str: ...

    @property
    def protect(self) -> bool: ...

    def preview(self, session: Session, *, diff: bool, skip_policy: bool = False) -> dict[str, Any]: ...

    def up(
        self, session: Session, *, yes: bool, smoke: bool, verify: bool, skip_policy: bool = False
    ) -> dict[str, Any]: ...

    def destroy(self, session: Session, *, yes: bool, confirm_stack: str | None) -> dict[str, Any]: ...

    def refresh(self, session: Session) -> dict[str, Any]: ...

    def outputs(self, session: Session) -> dict[str, StackOutput]: ...

    def status(self, session: Session) -> dict[str, Any]: ...

    def logs(self, session: Session, service: str | None, lines: int) -> dict[str, list[str]]: ...

    def follow_logs(self, session: Session, service: str | None) -> Iterator[tuple[str, str]]:
        """(service, line) as the services write them, until interrupted (`infra logs -f`)."""
        ...

    def dashboard(self, session: Session) -> Board: ...

    def doctor(self, session: Session) -> list[Check]:
        """This machine's prerequisites for the stack's verbs, each with its fix (`infra doctor --stack`)."""
        ...

    def verify(self, session: Session) -> Report: ...

    def restore(
        self,
        session: Session,
        *,
        into: str,
        to: datetime | None,
        snapshot: str | None,
        switch: bool,
        confirm_stack: str | None,
    ) -> dict[str, Any]: ...

    def service_endpoint(self, session: Session, *, token: str | None, ca_file: str | None) -> ServiceEndpoint: ...

    def token(
        self, session: Session, *, user: str | None, client: bool, scopes: tuple[str, ...], yes: bool
    ) -> dict[str, Any]:
        """An access token from the stack's identity provider: a user's (created if need be; on a cloud stack only
        once confirmed) or the machine client's; `access_token`, `expires_in`, `token_type`, `sub`."""
        ...

    def drill(self, session: Session, *, progress: Callable[[str], None]) -> DrillReport: ...

    def run(
        self, session: Session, command: list[str], *, service: str | None, on_line: Callable[[str], None]
    ) -> dict[str, Any]:
        """A one-off task of a service (the API when None) running `command` with that service's environment,
        roles and secrets; its output handed to `on_line`; the document carries its `exit_code`."""
        ...

    def releases(self, session: Session) -> dict[str, Any]:
        """The release history (cli/core/releases.py's shape), oldest first, under `releases`."""
        ...

    def rollback(self, session: Session, *, to: str | None, yes: bool) -> dict[str, Any]:
        """Bring back an earlier promoted release (`to`, or the one before the live one) through the same release
        path and checks, never a down-migration; asked for unless `yes`. The document names the new release record
        under `release` and the one it replaced under `rolled_back`."""
        ...

    def watcher(self, session: Session) -> Callable[[], None]:
        """What `up --watch` runs once the stack is up: it keeps the stack in step with its sources until Ctrl-C.
        Asked for before the `up`, so a stack that cannot be watched says so before anything changes."""
        ...
