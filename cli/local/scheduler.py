"""The local EventBridge Scheduler: a timer process that runs each schedule's command with its task's environment."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.local.schedule_times import UTC, ExpressionError, next_run

MARKER = "cli.local.scheduler"
POLL_SECONDS = 0.1
"""How often the timer looks at the clock and its configuration file (a stat): jobs start within this of their
time, and `up` waits about this long for a new configuration to be taken."""
STOP_SECONDS = 10
"""A job still running when the timer stops gets SIGTERM, and SIGKILL after this: within the 15 s the stack gives
the timer itself, so no job outlives it."""


def state_path(root: Path) -> Path:
    return root / "run" / "schedules.json"


def config_path(root: Path) -> Path:
    """What `up` applied: the schedules and, for each task they run, its environment, directory and command."""
    return root / "run" / "scheduler.json"


def write_config(root: Path, config: dict[str, Any]) -> str:
    """Write the timer's configuration (mode 600: the environments hold secrets); returns its digest."""
    from cli.core.files import write_private

    text = json.dumps(config, sort_keys=True)
    write_private(config_path(root), text)
    return _digest(text)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_config(root: Path) -> tuple[dict[str, Any], str] | None:
    with contextlib.suppress(OSError, ValueError):
        text = config_path(root).read_text()
        return json.loads(text), _digest(text)
    return None


def read_state(root: Path) -> dict[str, Any]:
    """What the timer last wrote: {"anchors": {key: iso}, "jobs": {name: {next_run, last_run, last_exit, ...}}}."""
    with contextlib.suppress(OSError, ValueError):
        value = json.loads(state_path(root).read_text())
        if isinstance(value, dict):
            return value
    return {}


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def _anchor_key(job: Mapping[str, Any]) -> str:
    return f"{job['name']}|{job['expression']}"


def describe(root: Path, jobs: list[dict], now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Each schedule with its next run (the timer's when it runs, computed from the expression otherwise)."""
    now = now or dt.datetime.now(UTC)
    state = read_state(root)
    anchors = state.get("anchors", {})
    described = []
    for job in jobs:
        seen = state.get("jobs", {}).get(job["name"], {})
        anchor = _parse(anchors.get(_anchor_key(job))) or now
        upcoming = None
        if job["enabled"]:
            with contextlib.suppress(ExpressionError):
                upcoming = _iso(next_run(job["expression"], job["time_zone"], after=now, anchor=anchor))
        described.append(
            {
                "name": job["name"],
                "expression": job["expression"],
                "time_zone": job["time_zone"],
                "service": job["service"],
                "command": job["command"],
                "enabled": job["enabled"],
                "next_run": upcoming,
                "last_run": seen.get("last_run"),
                "last_exit": seen.get("last_exit"),
            }
        )
    return described


def _parse(text: str | None) -> dt.datetime | None:
    with contextlib.suppress(TypeError, ValueError):
        return dt.datetime.fromisoformat(text) if text is not None else None
    return None


@dataclass
class Timer:
    """Starts each enabled job when its time comes; a job whose previous run is still going skips that time."""

    root: Path
    jobs: list[dict]
    launch: Callable[[dict], subprocess.Popen]
    """Starts one run of a job (its command, its task's environment) and returns the process."""
    config: str = ""
    """Digest of the configuration the jobs came from, so `up` sees when the timer has taken a new one."""
    state: dict[str, Any] = field(default_factory=dict)
    running: dict[str, tuple[subprocess.Popen, dt.datetime]] = field(default_factory=dict)
    upcoming: dict[str, dt.datetime | None] = field(default_factory=dict)

    def begin(self, now: dt.datetime) -> None:
        """Anchor each rate at the time the timer first saw it (kept across restarts and reloads) and plan every
        next run; called again with new jobs when `up` changes the configuration (a run in progress goes on)."""
        previous = read_state(self.root)
        anchors = previous.get("anchors", {})
        names = {job["name"] for job in self.jobs}
        runs = {name: run for name, run in previous.get("jobs", {}).items() if name in names}
        self.state = {"timer_pid": os.getpid(), "config": self.config, "anchors": {}, "jobs": runs}
        self.upcoming = {}
        for job in self.jobs:
            key = _anchor_key(job)
            self.state["anchors"][key] = anchors.get(key) if _parse(anchors.get(key)) else _iso(now)
            self.upcoming[job["name"]] = self._next(job, now)
        self._save()

    def _next(self, job: dict, after: dt.datetime) -> dt.datetime | None:
        if not job["enabled"]:
            return None
        anchor = _parse(self.state["anchors"][_anchor_key(job)]) or after
        return next_run(job["expression"], job["time_zone"], after=after, anchor=anchor)

    def tick(self, now: dt.datetime) -> list[str]:
        """Start the jobs whose time has come and record the runs that ended; returns the names started."""
        started = []
        for name, (process, began) in list(self.running.items()):
            code = process.poll()
            if code is not None:
                del self.running[name]
                self._record(name, last_exit=code, seconds=round((now - began).total_seconds(), 3))
                print(f"{name}: exited {code}", flush=True)
        for job in self.jobs:
            name = job["name"]
            due = self.upcoming.get(name)
            if due is None or due > now:
                continue
            self.upcoming[name] = self._next(job, now)
            if name in self.running:
                print(f"{name}: skipped the run of {_iso(due)}; the previous run is still going", flush=True)
                continue
            process = self.launch(job)
            self.running[name] = (process, now)
            started.append(name)
            self._record(name, last_run=_iso(now), last_exit=None, pid=process.pid)
            print(f"{name}: started (pid {process.pid}) for {_iso(due)}", flush=True)
        if started:
            self._save()
        return started

    def _record(self, name: str, **values: Any) -> None:
        self.state["jobs"].setdefault(name, {}).update(values)
        self.state["jobs"][name]["next_run"] = _iso(self.upcoming.get(name))
        self._save()

    def _save(self) -> None:
        from cli.core.files import write_private

        for name, moment in self.upcoming.items():
            self.state["jobs"].setdefault(name, {})["next_run"] = _iso(moment)
        write_private(state_path(self.root), json.dumps(self.state, indent=2))

    def stop(self) -> None:
        """Ask running jobs to stop, as ECS stops a task; kill what is left after STOP_SECONDS."""
        from cli.local.processes import stop_pid

        for process, _began in self.running.values():
            stop_pid(process.pid, timeout=STOP_SECONDS)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(1)


def launcher(tasks: Mapping[str, Any], log: Path) -> Callable[[dict], subprocess.Popen]:
    """Runs a job as its task would run: the command override (or the task's command), in the app's directory,
    with the task's environment as `up` last applied it."""

    def launch(job: dict) -> subprocess.Popen:
        task = tasks[job["service"]]
        env = {**task["env"], **job.get("environment", {})}
        with log.open("ab") as out:
            return subprocess.Popen(
                job["command"] or task["argv"], cwd=task["app_dir"], env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip

    return launch


def _signature(path: Path) -> tuple[int, int, int] | None:
    """Changes whenever `up` writes the file (a new inode each time): a stat a poll, the file read only then."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def serve(root: Path) -> None:
    """Run the timer until SIGTERM, taking each new configuration `up` writes (no restart, runs in progress go on)."""
    tasks: dict[str, Any] = {}
    # The jobs write to the timer's own log: `infra logs scheduler` shows each run's lines after its start line.
    timer = Timer(root, [], launcher(tasks, root / "logs" / "scheduler.log"))
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    seen = None
    try:
        while not stopping:
            signature = _signature(config_path(root))
            loaded = read_config(root) if signature != seen else None
            seen = signature
            if loaded is not None and loaded[1] != timer.config:
                config, timer.config = loaded
                tasks.clear()
                tasks.update(config["tasks"])
                timer.jobs = config["schedules"]
                timer.begin(dt.datetime.now(UTC))
                print(f"timer took configuration {timer.config} with {len(timer.jobs)} schedule(s)", flush=True)
            timer.tick(dt.datetime.now(UTC))
            time.sleep(POLL_SECONDS)
    finally:
        timer.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, type=Path)
    args = parser.parse_args(argv)
    serve(args.root)
    return 0


if __name__ == "__main__":
    os._exit(main())
