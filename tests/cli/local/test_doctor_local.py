"""`infra doctor --stack local`: the programs, ports and disk the local stack needs, checked on this machine."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cli.local import doctor
from stacks.settings import PROJECT_DIR

NAMES = ["PostgreSQL", "PgBouncer", "nginx", "Redis", "moto server", "PostgreSQL version", "free ports", "disk"]


@pytest.fixture
def fresh_local_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INFRA_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("INFRA_PROJECT_DIR", str(PROJECT_DIR))
    return tmp_path / "local"


def test_every_prerequisite_has_a_row_and_this_machine_has_them(fresh_local_dir: Path) -> None:
    checks = doctor.run_checks(PROJECT_DIR)
    assert [c.name for c in checks] == NAMES
    failed = [(c.name, c.detail) for c in checks if not c.ok]
    assert failed == []  # the test suite itself runs these servers
    assert "chosen among the free loopback ports" in checks[NAMES.index("free ports")].detail


def test_the_command_serves_the_local_stack_through_the_backend(infra, fresh_local_dir: Path) -> None:
    result = infra("doctor", "--stack", "local", "--json", code=0)
    import json

    doc = json.loads(result.stdout)
    assert [row["check"] for row in doc["checks"]] == NAMES
    assert "Pulumi" not in result.stdout


@dataclass
class _Stopped:
    """A service of the stack that is not running, with the ports it will listen on."""

    name: str
    ports: list[int] = field(default_factory=list)

    def pid(self) -> int | None:
        return None


def test_a_port_another_program_holds_is_named() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        taken = doctor.taken_ports([_Stopped("pgbouncer", [port])])  # type: ignore[list-item]
    assert taken == [f"pgbouncer 127.0.0.1:{port}"]


def test_too_little_disk_fails_with_a_fix(tmp_path: Path) -> None:
    check = doctor.check_disk(tmp_path, minimum=1 << 62)
    assert not check.ok
    assert "GiB free" in check.detail
    assert check.hint.startswith("free at least")
