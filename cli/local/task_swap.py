"""Replacing the API and the workers without a failed request: the new process first, then the switch, then the old.

The API: a second instance on a spare port, its heartbeat awaited, nginx reloaded to send new requests to it (its old
workers finish what they hold), the old instance stopped; then the same again back onto the stack's own port, so
`status`, Prometheus and the supervisor keep finding it where the stack put it. A worker: stopped gracefully, then
started on the new code (its work waits in the outbox meanwhile).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from cli.local.processes import ServiceFailed, free_port
from cli.local.services import ApiService, TaskService, TlsService

HEARTBEAT_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 15.0
"""How long nginx's old workers get to finish the requests they hold after a reload."""


def swap_api(api: ApiService, edge: TlsService) -> None:
    """The API replaced by `api` (the new code and configuration) with nginx switching between the two."""
    spare = free_port()
    stand_in = dataclasses.replace(
        api, ports=[spare], env={**api.env, "PORT": str(spare)}, pidfile=api.pidfile.with_name("api-next.pid")
    )
    _start_and_switch(stand_in, edge)
    try:
        api.stop()  # its pid file names the old process, on the stack's port; gunicorn finishes what it holds
        _start_and_switch(api, edge)
    except BaseException:
        api.stop()
        raise  # the stand-in keeps serving; the next `up` brings the API back to its port
    stand_in.stop()


def swap_task(task: TaskService) -> None:
    """A worker replaced: the old one stopped gracefully (SIGTERM: it finishes its batch), then the new one started.
    Not side by side as the API: the two would share the worker's metrics port; what arrives meanwhile waits in the
    outbox."""
    task.stop()
    task.start()


def _start_and_switch(api: ApiService, edge: TlsService) -> None:
    """Start `api`, wait for its heartbeat, point nginx at it and wait for nginx's old workers to drain."""
    try:
        api.start()
        _wait_for_heartbeat(api)
    except BaseException:
        api.stop()
        raise
    workers = _children(edge.pid())
    dataclasses.replace(edge, upstream_port=api.ports[0]).update()
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while workers & _children(edge.pid()) and time.monotonic() < deadline:
        time.sleep(0.02)


def _wait_for_heartbeat(api: ApiService) -> None:
    """The instance answers /heartbeat (a database round trip through the pool) with 200."""
    import httpx

    url = f"http://127.0.0.1:{api.ports[0]}/heartbeat"
    deadline = time.monotonic() + HEARTBEAT_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        if api.pid() is None:
            raise ServiceFailed(f"{api.name} exited while starting", hint=f"see {api.log}")
        try:
            answer = httpx.get(url, timeout=2)
            if answer.status_code == 200:
                return
            last = f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.02)
    raise ServiceFailed(
        f"{api.name} gave no heartbeat within {HEARTBEAT_TIMEOUT_S:g} s ({last})", hint=f"see {api.log}"
    )


def _children(pid: int | None) -> set[int]:
    """The processes whose parent is `pid` (nginx's workers of its master)."""
    if pid is None:
        return set()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The fields after the command's name, which is in parentheses and may hold spaces.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.add(int(entry.name))
    found.discard(os.getpid())
    return found
