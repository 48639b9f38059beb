"""`infra up --stack local --watch`: the running stack kept in step with the app's sources and the program."""

from __future__ import annotations

import functools
import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cli.core.errors import ConfigError, InfraError
from cli.local import release_flow, supervisor
from cli.local.services import ApiService, TaskService, TlsService
from cli.local.stack import LocalStack, stack_for
from cli.local.task_swap import swap_api, swap_task

if TYPE_CHECKING:
    from rich.console import Console

POLL_S = 0.1
"""How often the sources' modification times are read."""
SETTLE_S = 0.1
"""An edit is acted on once the sources have stopped changing for this long (an editor writes in several steps)."""
APP = ("app_image",)
PROGRAM = ("infra", "stacks")
_SKIPPED = ("__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache")


def snapshot(project_dir: Path) -> dict[Path, float]:
    """The modification time of every watched file: the app's sources, the program and its Pulumi*.yaml."""
    found: dict[Path, float] = {}
    for path in project_dir.glob("Pulumi*.yaml"):
        found[path] = path.stat().st_mtime
    for top in (*APP, *PROGRAM):
        for path in (project_dir / top).rglob("*"):
            if path.suffix in (".pyc", ".pyo") or any(part in _SKIPPED for part in path.parts):
                continue
            try:
                if path.is_file():
                    found[path] = path.stat().st_mtime
            except OSError:
                continue  # removed while being listed
    return found


def edited(before: dict[Path, float], after: dict[Path, float]) -> list[Path]:
    """Files added, changed or removed between two snapshots."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def is_app(project_dir: Path, path: Path) -> bool:
    return path.relative_to(project_dir).parts[0] in APP


def check_syntax(project_dir: Path, paths: list[Path]) -> None:
    """Each edited Python file compiles; the first that does not is named with its line."""
    for path in paths:
        if path.suffix != ".py" or not path.is_file():
            continue
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as error:
            where = f"{path.relative_to(project_dir)}:{error.lineno}"
            raise ConfigError(f"{where}: {error.msg}", hint="fix it and save; the running code keeps serving") from None


def app_tag(project_dir: Path) -> str:
    """The image tag the program derives from the app's content (stacks/content_tag.py)."""
    from stacks.content_tag import content_tag

    return content_tag(project_dir / "app_image")


class Watcher:
    """Acts on each settled edit: the app's are restarts of the API and the workers, the program's an incremental up."""

    def __init__(self, project_dir: Path, console: Console) -> None:
        self.project_dir = project_dir
        self.console = console
        self.stack = stack_for(project_dir)
        self.stack.spec()
        self.tag = app_tag(project_dir)
        self.replan = False
        """An app edit was applied from the plan with its new image tag; the real plan is checked when idle."""

    def run(self, stop: threading.Event) -> None:
        seen = snapshot(self.project_dir)
        self.console.print(
            "[bold]watching[/] app_image/, infra/, stacks/ and Pulumi*.yaml; Ctrl-C stops watching (the stack keeps "
            "running)"
        )
        while not stop.is_set():
            stop.wait(POLL_S)
            now = snapshot(self.project_dir)
            if now == seen:
                if self.replan and not stop.is_set():
                    self.replan = False
                    self._guarded(lambda: self.apply_program(quiet=True))
                continue
            while not stop.is_set():  # settle: act on the edit once it is complete
                stop.wait(SETTLE_S)
                later = snapshot(self.project_dir)
                if later == now:
                    break
                now = later
            changed, seen = edited(seen, now), now
            if any(not is_app(self.project_dir, path) for path in changed):
                self._guarded(lambda: self.apply_program(quiet=False))
            else:
                self._guarded(functools.partial(self.apply_app, changed))

    def _guarded(self, action: Callable[[], None]) -> None:
        """Run one change; a failure is reported and what runs keeps serving."""
        try:
            action()
        except InfraError as error:
            self.console.print(f"[bold red]error:[/] {error.message}", markup=True, soft_wrap=True)
            if error.hint:
                self.console.print(f"[bold]next:[/] {error.hint}", soft_wrap=True)
            self.console.print("[yellow]the running stack keeps serving what it served[/]")

    def apply_app(self, changed: list[Path]) -> None:
        """The app's sources changed: the API and the workers restarted on them, with no request failing."""
        started = time.perf_counter()
        check_syntax(self.project_dir, changed)
        tag = app_tag(self.project_dir)
        # The plan depends on the app only through its image tag: the applied plan with the new tag is the new plan
        # (checked against the program's own run when the edits pause).
        text = json.dumps(self.stack.spec())
        fresh = stack_for(self.project_dir)
        fresh.adopt(json.loads(text.replace(self.tag, tag)) if self.tag in text else json.loads(text))
        names = self._swap_tasks(fresh, only_changed=False)
        # Its view of the services is the old one. The check against the program's own plan starts it again (`up`
        # starts one when none runs), once that plan is cached, instead of it planning beside the check.
        supervisor.stop(fresh.root)
        self.stack, self.tag, self.replan = fresh, tag, True
        seconds = time.perf_counter() - started
        self.console.print(f"[cyan]~[/] {', '.join(names)}: restarted on the edited app in {seconds:.1f} s")

    def apply_program(self, *, quiet: bool) -> None:
        """The program or its settings changed: planned again, the API and the workers swapped without a failed
        request, everything else brought up to date by `up`; one line per change."""
        started = time.perf_counter()
        fresh = stack_for(self.project_dir)
        fresh.spec()  # a program that does not plan stops here, with the stack untouched
        swapped = self._swap_tasks(fresh, only_changed=True)
        states, sql = fresh.up()
        lines = [f"[cyan]~[/] {name}: restarted without a failed request" for name in swapped]
        lines += [f"[cyan]~[/] {s.name}: {s.action}" for s in states if s.action != "same"]
        lines += [f"[cyan]~[/] database object {key}: {urn.rpartition('::')[2]}" for key in sql for urn in sql[key]]
        self.stack, self.tag = fresh, app_tag(self.project_dir)
        for line in lines:
            self.console.print(line)
        if lines or not quiet:
            self.console.print(f"[dim]{len(lines)} change(s) applied in {time.perf_counter() - started:.1f} s[/]")

    def _swap_tasks(self, fresh: LocalStack, *, only_changed: bool) -> list[str]:
        """Swap the API and the workers (all of them, or those whose configuration changed); their names."""
        services = fresh.services()
        changed = {state.name for state in fresh.status() if state.action == "update"}
        edge = next(s for s in services if isinstance(s, TlsService))
        swapped = []
        with fresh.locked():
            for service in services:
                if not isinstance(service, ApiService | TaskService) or service.pid() is None:
                    continue
                if only_changed and service.name not in changed:
                    continue
                if isinstance(service, ApiService):
                    # From a kept copy of the sources, as a release runs: the stack's state names that version live.
                    service = release_flow.from_current_sources(fresh, service)
                    swap_api(service, edge)
                    with fresh._state_lock:
                        release_flow.save_live(fresh, service)
                else:
                    swap_task(service)
                    fresh.record(service)
                swapped.append(service.name)
        return swapped


def watch(project_dir: Path, console: Console) -> None:
    """Watch until Ctrl-C (or SIGTERM); a change under way is finished first, and the stack keeps running."""
    stop = threading.Event()
    handlers = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    watcher = Watcher(project_dir, console)
    try:
        watcher.run(stop)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if watcher.replan:  # stopped before the check that starts the supervisor again: start it now
        supervisor.start(watcher.stack.root, project_dir)
    console.print("stopped watching; the local stack keeps running (`infra destroy --stack local` stops it)")
