"""`infra doctor --stack local`: what the local stack needs on this machine (programs, ports, disk), each with a fix."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from cli.core.checks import Check
from cli.core.errors import InfraError
from cli.local.binaries import pgbouncer_bin, postgres_bin
from cli.local.cache import redis_bin
from cli.local.nginx import nginx_bin
from cli.local.processes import port_is_free
from cli.local.services import Service, moto_server_bin
from cli.local.stack import stack_for

MIN_FREE_BYTES = 1024**3
"""Free disk the local stack wants under the project: a PostgreSQL cluster, its WAL archive, logs and snapshots."""


def run_checks(project_dir: Path) -> list[Check]:
    """Every prerequisite of `infra up --stack local`, in the order a fix would follow."""
    return [
        _program("PostgreSQL", lambda: postgres_bin() / "postgres", _postgres_detail),
        _program("PgBouncer", pgbouncer_bin),
        _program("nginx", nginx_bin),
        _program("Redis", redis_bin),
        _program("moto server", moto_server_bin),
        check_engine_version(project_dir),
        check_ports(project_dir),
        check_disk(project_dir),
    ]


def _postgres_detail(path: Path) -> str:
    return f"PostgreSQL {path.parent.parent.name} at {path.parent}"


def _program(name: str, find: Callable[[], Path], detail: Callable[[Path], str] = str) -> Check:
    try:
        path = find()
    except InfraError as error:
        return Check(name, False, error.message, error.hint or "")
    return Check(name, True, detail(path))


def check_engine_version(project_dir: Path) -> Check:
    """The PostgreSQL version the program declares against the one installed (a newer one installed is refused)."""
    name = "PostgreSQL version"
    try:
        note = stack_for(project_dir).engine_note()
    except InfraError as error:
        return Check(name, False, error.message, error.hint or "")
    return Check(name, True, note or "the installed major is the one the program declares")


def check_ports(project_dir: Path) -> Check:
    """The stack's loopback ports are free, or held by its own running services."""
    name = "free ports"
    stack = stack_for(project_dir)
    if not stack.exists():
        return Check(name, True, "chosen among the free loopback ports at the first `infra up --stack local`")
    try:
        services = stack.services()
    except InfraError as error:
        return Check(name, False, error.message, error.hint or "")
    taken = taken_ports(services)
    if taken:
        return Check(
            name,
            False,
            "used by another program: " + ", ".join(taken),
            "stop that program (`ss -ltnp` names it), or `infra destroy --stack local` to pick new ports next `up`",
        )
    ports = sum(len(service.ports) for service in services)
    return Check(name, True, f"{ports} ports free or held by the stack's own services")


def taken_ports(services: Sequence[Service]) -> list[str]:
    """The ports of services that are not running which another program listens on, as `name 127.0.0.1:port`."""
    return [
        f"{service.name} 127.0.0.1:{port}"
        for service in services
        if service.pid() is None
        for port in service.ports
        if not port_is_free(port)
    ]


def check_disk(project_dir: Path, minimum: int = MIN_FREE_BYTES) -> Check:
    """Free space on the file system that holds the project (and so .infra/local)."""
    free = shutil.disk_usage(project_dir).free
    text = f"{free / 1024**3:.1f} GiB free under {project_dir}"
    if free < minimum:
        return Check("disk", False, text, f"free at least {minimum / 1024**3:.0f} GiB there")
    return Check("disk", True, text)
