"""The local stack's restart policy: a background process restarts a crashed service and stops a crash loop."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
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
FAILED_STARTS = 5
"""Starts in a row that fail (each after a longer pause) before the service counts as a crash loop too."""
MARKER = "cli.local.supervisor"


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
    from cli.local.processes import write_private

    write_private(record_path(root), json.dumps(records, indent=2))


def forget(root: Path, names: list[str]) -> None:
    """`up` started these services itself: a crash loop it reported is over."""
    records = read_records(root)
    for name in names:
        if name in records:
            records[name]["crash_loop"] = False
            records[name]["recent"] = []
    if records:
        _write_records(root, records)


def running(root: Path) -> int | None:
    from cli.local.processes import ours, read_pid

    return ours(read_pid(pidfile(root)), f"{MARKER} --root {root}")


def start(root: Path, project_dir: Path) -> None:
    """Start the supervisor for the stack (stopping one that runs with an older view of the plan)."""
    stop(root)
    log = root / "logs" / "supervisor.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    pidfile(root).parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", MARKER, "--root", str(root), "--project", str(project_dir)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    pidfile(root).write_text(f"{process.pid}\n")


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


def supervise(root: Path, project_dir: Path) -> None:
    """Watch every service; restart one that crashed (its pid file left by a dead process), as a container
    runtime's restart policy would, and stop at a crash loop."""
    from cli.local.stack import LocalStack

    stack = LocalStack(project_dir)
    stack.root = root
    services = stack.services()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    while not stopping and (root / "state.json").is_file():
        for service in services:
            if stopping or service.pid() is not None or not service.crashed():
                continue
            records = read_records(root)
            record = records.setdefault(service.name, {"count": 0, "recent": [], "crash_loop": False, "error": None})
            if record["crash_loop"] or time.time() < record.get("next_try", 0):
                continue
            with _try_lock(root) as locked:
                if locked and service.pid() is None and service.crashed():
                    _restart(service, record)
                    _write_records(root, records)
        time.sleep(POLL_SECONDS)


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
        record.update(error=str(error)[:500], failures=failures, next_try=now + min(0.25 * 2**failures, 5.0))
        record["crash_loop"] = failures >= FAILED_STARTS
        print(f"{service.name}: restart failed ({failures} in a row): {error}", flush=True)
        return
    record.update(error=None, failures=0, next_try=0)
    record["count"] += 1
    record["recent"].append(now)
    print(f"{service.name}: restarted after a crash ({record['count']} in all)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--project", required=True, type=Path)
    args = parser.parse_args(argv)
    supervise(args.root, args.project)
    return 0


if __name__ == "__main__":
    os._exit(main())
