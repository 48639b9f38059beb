"""How a run reaches the private database: whether the CLI opens the SSM tunnel, and the phases of a first deploy."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cli.cloud.tunnel import LOOPBACK, Timing, Tunnel, TunnelError, TunnelTarget, choose_local_port
from cli.core import resource_types
from cli.core.errors import InfraError, StackNotFound
from stacks import outputs as names

if TYPE_CHECKING:
    from rich.console import Console

    from cli.cloud.engine import Engine
    from cli.core.outputs import StackOutput
    from cli.core.stack_ref import StackRef

ADMIN_HOST = "groundwork:databaseAdminHost"
ADMIN_PORT = "groundwork:databaseAdminPort"
OBJECTS = "groundwork:databaseObjects"
DATABASE_TYPE = resource_types.RDS_INSTANCE
BASTION_TYPE = "groundwork:bastion:Bastion"
OBJECT_TYPE_PREFIX = "postgresql:"
DATABASE_PORT = 5432

TIMING = Timing()
"""Bounds of the tunnel's waits; tests shorten them."""


@dataclass(frozen=True)
class StackState:
    """What the state holds of the path to the database."""

    objects: bool = False
    database: bool = False
    bastion: bool = False

    @classmethod
    def from_deployment(cls, deployment: Mapping[str, Any]) -> StackState:
        types = {str(r.get("type", "")) for r in deployment.get("resources") or [] if isinstance(r, dict)}
        return cls(
            objects=any(t.startswith(OBJECT_TYPE_PREFIX) for t in types),
            database=DATABASE_TYPE in types,
            bastion=BASTION_TYPE in types,
        )


@dataclass(frozen=True)
class DatabasePath:
    """The stack's settings and state, and what they mean for this run."""

    stack: str
    tunnels: bool
    """The CLI opens the tunnel itself: objects declared, reached through the bastion, no admin host configured."""
    state: StackState

    @property
    def two_phase(self) -> bool:
        """The bastion or the database does not exist yet, so the objects wait for a second update."""
        return self.tunnels and not (self.state.database and self.state.bastion)

    @property
    def objects_in_state(self) -> bool:
        return self.tunnels and self.state.objects and self.state.database and self.state.bastion

    def first_phase_values(self) -> dict[str, Any]:
        """Run values of the first update: without the objects, unless the state has them (they must not go)."""
        if self.state.objects:
            return {ADMIN_HOST: LOOPBACK, ADMIN_PORT: choose_local_port(self.stack)}
        return {OBJECTS: False}


def uses_tunnel(settings: Any) -> bool:
    """Database objects declared, the bastion on, and no admin host of the user's own: the CLI opens the tunnel."""
    return bool(
        getattr(settings, "database_objects", False)
        and getattr(settings, "bastion", False)
        and not getattr(settings, "database_admin_host", None)
    )


def resolve(engine: Engine, target: StackRef) -> DatabasePath:
    """Read the settings and, when the tunnel matters, the state."""
    tunnels = uses_tunnel(target.settings)
    state = StackState()
    if tunnels:
        try:
            state = StackState.from_deployment(engine.export_state(target.stack))
        except StackNotFound:
            state = StackState()
    return DatabasePath(stack=target.stack, tunnels=tunnels, state=state)


def tunnel_target(outputs: Mapping[str, StackOutput], region: str | None) -> TunnelTarget:
    """The bastion and the database endpoint from the stack outputs."""
    bastion = _value(outputs, names.BASTION_INSTANCE_ID)
    endpoint = _value(outputs, names.DATABASE_ENDPOINT)
    region = _value(outputs, names.REGION) or region
    if not bastion or not endpoint or not region:
        missing = [n for n, v in ((names.BASTION_INSTANCE_ID, bastion), (names.DATABASE_ENDPOINT, endpoint)) if not v]
        raise TunnelError(
            "the stack outputs do not name " + (" and ".join(missing) or names.REGION) + ", so no tunnel can be opened",
            hint="check that groundwork:bastion is true and that the last update completed (`infra outputs`)",
        )
    host, _, port = str(endpoint).partition(":")
    return TunnelTarget(
        region=str(region),
        bastion_id=str(bastion),
        database_host=host,
        database_port=int(port) if port.isdigit() else DATABASE_PORT,
    )


def _value(outputs: Mapping[str, StackOutput], name: str) -> Any:
    item = outputs.get(name)
    return None if item is None else item.value


def with_next_step(error: InfraError, stack: str, verb: str, *, applying: bool) -> InfraError:
    """The same error, saying that the database objects were not applied and how to run it again."""
    message = error.message + ("; the database objects were not applied" if applying else "")
    again = f"then run `infra {verb} --stack {stack}` again" + (" to apply them" if applying else "")
    fix = error.hint.removesuffix(", then try again").removesuffix("; then try again")
    hint = f"{fix}; {again}" if fix else again
    copy = type(error)(message, hint=hint, details=error.details)
    return copy


@contextmanager
def opened(
    path: DatabasePath,
    outputs: Mapping[str, StackOutput],
    region: str | None,
    console: Console,
    *,
    verb: str,
    applying: bool,
) -> Iterator[dict[str, Any]]:
    """Open the tunnel for this run and yield the run values that point the postgresql provider at it."""

    def status(text: str) -> None:
        console.print(f"[dim]{text}[/]", highlight=False)

    try:
        target = tunnel_target(outputs, region)
        port = choose_local_port(path.stack)
        status(f"opening the SSM tunnel to the database through bastion {target.bastion_id} on {LOOPBACK}:{port}")
        tunnel = Tunnel(target, port, timing=TIMING, on_status=status, reason=f"infra {verb} --stack {path.stack}")
        tunnel.__enter__()
    except InfraError as exc:
        raise with_next_step(exc, path.stack, verb, applying=applying) from exc
    try:
        yield {ADMIN_HOST: tunnel.host, ADMIN_PORT: tunnel.local_port}
    finally:
        tunnel.close()
        status("tunnel closed")
