"""The local stack's side of the drill: its PostgreSQL cluster and the API endpoint with a token it accepts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cli.errors import ConfigError

if TYPE_CHECKING:
    from cli.local.postgres import Cluster
    from cli.recovery.drill import ApiTarget


def local_inputs(project_dir: Path) -> tuple[Cluster, ApiTarget]:
    """The running local stack's cluster and API; a stack that is not up is named with what to do."""
    from cli.local.services import DatabaseService
    from cli.local.stack import stack_for
    from cli.local.verbs import smoke_target
    from cli.recovery.drill import ApiTarget

    stack = stack_for(project_dir)
    running = {state.name: state.state for state in stack.status()}
    if not running or any(state != "running" for state in running.values()):
        raise ConfigError(
            "the local stack is not running" + (f" ({running})" if running else ""),
            hint="start it with `infra up --stack local`",
        )
    from stacks import outputs as names

    cluster = next(s.cluster for s in stack.services() if isinstance(s, DatabaseService))
    # The application database is the one the program declares (the cluster itself creates none).
    cluster.app_database = stack.outputs()[names.DATABASE_NAME][0]
    target = smoke_target(project_dir)
    return cluster, ApiTarget(base_url=target.base_url, token=target.token or "", ca_file=target.ca_file)
