"""The local stack's restart policy: a background process restarts a crashed service and stops a crash loop."""

from __future__ import annotations

import contextlib
import fcntl
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

POLL_SECONDS = 0.2
"""How often the services are looked at: a crash is noticed within this, and restarted well within 2 s."""
CRASH_LOOP_RESTARTS = 3
"""Restarts of one service within CRASH_LOOP_SECONDS that make a crash loop: it is then left down and reported."""
CRASH_LOOP_SECONDS = 60.0
FAILED_STARTS = 15
"""Starts in a row that fail (each after a longer pause) before the service counts as a crash loop too."""
MARKER = "cli.local.supervisor_process"
"""The module the background process runs; its command line names the stack it watches."""


def record_path(root: Path) -> Path:
    return root / "run" / "restarts.json"


def pidfile(root: Path) -> Path:
    return root / "run" / "supervisor.pid"


def read_records(root: Path) -> dict[str, Any]:
    """Restarts by service: {"count", "recent" (timestamps), "crash_loop", "error"}; empty when none or unreadable."""
    with contextlib.suppress(OSError, ValueError):
        value = json.loads(record_path(root).read_text())
        if isinstance(value, dict):
            return value
    return {}


def _write_records(root: Path, records: dict[str, Any]) -> None:
    from cli.core.files import write_private

    write_private(record_path(root), json.dumps(records, indent=2))


def forget(root: Path, names: list[str]) -> None:
    """`up` started these services itself: a crash loop it reported is over."""
    records = read_records(root)
    for name in names:
        if name in records:
            records[name].update(crash_loop=False, recent=[], failures=0, next_try=0)
    if records:
        _write_records(root, records)


def running(root: Path) -> int | None:
    from cli.local.processes import ours, read_pid

    return ours(read_pid(pidfile(root)), f"{MARKER} --root {root}")


def start(root: Path, project_dir: Path) -> None:
    """Start the supervisor for the stack (stopping one that runs with an older view of the plan)."""
    from cli.local.processes import write_pid

    stop(root)
    log = root / "logs" / "supervisor.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    pidfile(root).parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", MARKER, "--root", str(root), "--project", str(project_dir)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    write_pid(pidfile(root), process.pid)


def stop(root: Path) -> None:
    from cli.local.processes import stop_pid

    pid = running(root)
    if pid is not None:
        stop_pid(pid, timeout=10)
    pidfile(root).unlink(missing_ok=True)


@contextlib.contextmanager
def _try_lock(root: Path):
    """The stack's lock if nobody holds it (an `up` or `destroy` in progress is left alone)."""
    with (root / ".lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def supervise(root: Path, stack: Any) -> None:
    """Watch every service of the stack; restart one that crashed (its pid file left by a dead process), as a
    container runtime's restart policy would, and stop at a crash loop."""
    services = stack.services()
    health = HealthCheck(root, stack)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    while not stopping and (root / "state.json").is_file():
        health.poll()
        for service in services:
            if stopping or service.pid() is not None:
                continue
            records = read_records(root)
            record = records.setdefault(service.name, {"count": 0, "recent": [], "crash_loop": False, "error": None})
            # A crash leaves a pid file behind; a restart that failed (its pid file cleared) is tried again.
            if not (service.crashed() or record.get("failures")):
                continue
            if record["crash_loop"] or time.time() < record.get("next_try", 0):
                continue
            with _try_lock(root) as locked:
                if locked and service.pid() is None:
                    _restart(service, record)
                    _write_records(root, records)
        time.sleep(POLL_SECONDS)


class HealthCheck:
    """The task definition's health check, run every `interval` seconds against the API as ECS runs it; after
    `retries` failures in a row the API is restarted (ECS replaces an unhealthy task). Never blocks the loop."""

    def __init__(self, root: Path, stack: Any) -> None:
        from cli.local import adapters

        self.root = root
        self.api = next(s for s in stack.services() if s.name == "api")
        spec = stack.spec()["api"]
        check = spec.get("health_check") or {}
        self.command = adapters.health_check_command(check, spec["port"], self.api.ports[0]) if check else []
        self.interval = float(check.get("interval", 30))
        self.timeout = float(check.get("timeout", 5))
        self.retries = int(check.get("retries", 3))
        self.next_run = time.monotonic() + float(check.get("startPeriod", 0)) + self.interval
        self.running: tuple[subprocess.Popen, float] | None = None
        self.failures = 0

    def poll(self) -> None:
        if not self.command:
            return
        now = time.monotonic()
        if self.running is None:
            if now >= self.next_run and self.api.pid() is not None:
                process = subprocess.Popen(
                    self.command, env=self.api.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                self.running = (process, now)
            return
        process, began = self.running
        code = process.poll()
        if code is None and now - began < self.timeout:
            return
        if code is None:
            process.kill()
            process.wait()
        self.running = None
        self.next_run = now + self.interval
        self.failures = 0 if code == 0 else self.failures + 1
        records = read_records(self.root)
        record = records.setdefault("api", {"count": 0, "recent": [], "crash_loop": False, "error": None})
        record.update(health="healthy" if code == 0 else "unhealthy", checked=time.time())
        if self.failures >= self.retries:
            print(f"api: unhealthy {self.failures} times in a row; replaced", flush=True)
            self.failures = 0
            with _try_lock(self.root) as locked:
                if locked:
                    self.api.stop()
                    _restart(self.api, record)
        _write_records(self.root, records)


def _restart(service: Any, record: dict[str, Any]) -> None:
    """One restart, counted; a crash loop (restarts that keep crashing, or starts that keep failing) stops it."""
    now = time.time()
    record["recent"] = [t for t in record["recent"] if now - t < CRASH_LOOP_SECONDS]
    if len(record["recent"]) >= CRASH_LOOP_RESTARTS:
        record["crash_loop"] = True
        print(f"{service.name}: crash loop ({len(record['recent'])} restarts within a minute); left down", flush=True)
        return
    try:
        service.stop()  # clears the stale pid file
        service.start()
    except Exception as error:
        failures = record.get("failures", 0) + 1
        record.update(error=str(error)[:500], failures=failures, next_try=now + min(0.1 * failures, 2.0))
        record["crash_loop"] = failures >= FAILED_STARTS
        print(f"{service.name}: restart failed ({failures} in a row): {error}", flush=True)
        return
    record.update(error=None, failures=0, next_try=0)
    record["count"] += 1
    record["recent"].append(now)
    print(f"{service.name}: restarted after a crash ({record['count']} in all)", flush=True)
