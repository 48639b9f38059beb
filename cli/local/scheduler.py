"""The local EventBridge Scheduler: a timer process that runs each schedule's command with its task's environment."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
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
POLL_SECONDS = 0.5
"""How often the timer looks at the clock: jobs start within this of their time."""
STOP_SECONDS = 10
"""A job still running when the timer stops gets SIGTERM, and SIGKILL after this: within the 15 s the stack gives
the timer itself, so no job outlives it."""


def state_path(root: Path) -> Path:
    return root / "run" / "schedules.json"


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
        return dt.datetime.fromisoformat(text)
    return None


@dataclass
class Timer:
    """Starts each enabled job when its time comes; a job whose previous run is still going skips that time."""

    root: Path
    jobs: list[dict]
    launch: Callable[[dict], subprocess.Popen]
    """Starts one run of a job (its command, its task's environment) and returns the process."""
    state: dict[str, Any] = field(default_factory=dict)
    running: dict[str, tuple[subprocess.Popen, dt.datetime]] = field(default_factory=dict)
    upcoming: dict[str, dt.datetime | None] = field(default_factory=dict)

    def begin(self, now: dt.datetime) -> None:
        """Anchor each rate at the time the timer first saw it (kept across restarts) and plan every next run."""
        previous = read_state(self.root)
        anchors = previous.get("anchors", {})
        self.state = {"timer_pid": os.getpid(), "anchors": {}, "jobs": previous.get("jobs", {})}
        for job in self.jobs:
            key = _anchor_key(job)
            self.state["anchors"][key] = anchors.get(key) or _iso(now)
            self.upcoming[job["name"]] = self._next(job, now)
        self._save()

    def _next(self, job: dict, after: dt.datetime) -> dt.datetime | None:
        if not job["enabled"]:
            return None
        anchor = _parse(self.state["anchors"][_anchor_key(job)])
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
        from cli.local.processes import write_private

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


def launcher(services: Mapping[str, Any], log: Path) -> Callable[[dict], subprocess.Popen]:
    """Runs a job as its task would run: the command override, in the app's directory, with the task's environment."""

    def launch(job: dict) -> subprocess.Popen:
        service = services[job["service"]]
        env = {**service.env, **job.get("environment", {})}
        with log.open("ab") as out:
            return subprocess.Popen(
                job["command"] or service.argv(), cwd=service.app_dir, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip

    return launch


def serve(root: Path, project_dir: Path) -> None:
    from cli.local.stack import LocalStack

    stack = LocalStack(project_dir)
    stack.root = root
    services = {service.name: service for service in stack.services()}
    jobs = stack.spec()["schedules"]
    timer = Timer(root, jobs, launcher(services, root / "logs" / "jobs.log"))
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    timer.begin(dt.datetime.now(UTC))
    print(f"timer started with {len(jobs)} schedule(s)", flush=True)
    try:
        while not stopping:
            timer.tick(dt.datetime.now(UTC))
            time.sleep(POLL_SECONDS)
    finally:
        timer.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--project", required=True, type=Path)
    args = parser.parse_args(argv)
    serve(args.root, args.project)
    return 0


if __name__ == "__main__":
    os._exit(main())
