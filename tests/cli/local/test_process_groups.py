"""The local stack owns whole process groups: after `kill -9` of nginx's master its orphaned worker is ended before
the restart (which then finds its ports free), and stopping leaves no process of the service behind."""

from __future__ import annotations

import os
import shutil
import signal

import pytest

from cli.local import nginx, supervisor, tls
from cli.local.processes import free_ports, group_members, is_listening, pid_alive, port_is_free, read_pid, wait_until
from cli.local.services import TlsService
from tests.cli.local.test_nginx_edge import LOAD_BALANCER
from tests.harness import scratch_dir


@pytest.fixture
def edge():
    base = scratch_dir("groundwork-groups-")

    service = TlsService(
        "tls",
        free_ports(2),
        base / "nginx" / "error.log",
        base=base / "nginx",
        files=tls.TlsFiles(base / "tls"),
        upstream_port=free_ports(1)[0],
        test_port=free_ports(1)[0],
        test_upstream_port=free_ports(1)[0],
        load_balancer=LOAD_BALANCER,
    )
    service.base.mkdir(parents=True)
    service.start()
    try:
        yield service
    finally:
        service.stop()
        shutil.rmtree(base, ignore_errors=True)


def _kill_master(service: TlsService) -> list[int]:
    master = read_pid(service.pidfile)
    assert master is not None
    workers = [pid for pid in group_members(master, nginx.GROUP_MARK) if pid != master]
    assert workers, "nginx runs a worker in its master's group"
    os.kill(master, signal.SIGKILL)
    wait_until(lambda: master not in group_members(master, nginx.GROUP_MARK), 10, "the master's end")
    return workers


def test_a_killed_masters_worker_is_ended_by_stop(edge):
    workers = _kill_master(edge)
    assert is_listening(edge.ports[1]), "the orphaned worker still holds the port"
    assert edge.crashed()
    edge.stop()
    assert not any(pid_alive(pid) for pid in workers)
    assert all(port_is_free(port) for port in edge.ports)


def test_the_supervisors_restart_meets_no_orphan_on_its_port(edge):
    _kill_master(edge)
    record = {"count": 0, "recent": [], "crash_loop": False, "error": None}
    supervisor._restart(edge, record)
    assert record["error"] is None, record
    assert record["count"] == 1
    assert edge.pid() is not None
    assert is_listening(edge.ports[1])
