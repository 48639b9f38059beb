"""Starting the local stack's services in dependency order, those that do not wait for each other at the same time."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from cli.core.errors import InfraError
from cli.local.services import Service

MIGRATION = "migration"
"""The step that runs the release's migration: after the data services, before any task takes work."""
DATA = ("postgres", "pgbouncer", "cache")
"""What a task needs running before it starts (its database through the pooler, and the cache)."""


def finishing(name: str) -> str:
    """The step of a service's follow-up work, after the service itself."""
    return f"{name} (finishing)"


def service_needs(names: list[str], tasks: list[str], *, identity: bool) -> dict[str, set[str]]:
    """What each step waits for. The database, the cache, moto's server and Prometheus need nothing; the pooler
    needs the database; the migration the data services; the API, the workers and the scheduler the migration (the
    API also moto's server when it fetches the user pool's keys at start); nginx the API. A service's follow-up
    work needs the service, and nothing needs it."""
    present = set(names)
    data = {name for name in DATA if name in present}
    needs: dict[str, set[str]] = {name: set() for name in names}
    for name in names:
        if finishing(name) in present:
            needs[finishing(name)] = {name}
    needs[MIGRATION] = data
    if "pgbouncer" in present:
        needs["pgbouncer"] = {"postgres"} & present
    for name in (*tasks, "scheduler"):
        if name in present:
            needs[name] = {MIGRATION}
    if "api" in present and identity and "s3" in present:
        needs["api"].add("s3")
    if "tls" in present:
        needs["tls"] = {"api"} & present
    return needs


def converge(service: Service, action: str) -> None:
    """Bring one service to what the plan says: start it if it is not running, update it if its config changed."""
    if service.pid() is None:
        service.stop()  # clears a stale pid file left by a crash
        service.start()
    elif action == "update":
        service.update()


def stop_started(services: Mapping[str, Service], was_running: set[str], finished: list[str]) -> list[str]:
    """Stop the services this run started, latest first (what ran before it keeps running); return their names."""
    stopped = [name for name in finished if name in services and name not in was_running]
    for name in stopped:
        services[name].stop()
    return stopped


class StepFailed(InfraError):
    """A step failed with something other than the CLI's own errors; its cause is chained."""


def run_in_order(
    steps: Mapping[str, Callable[[], None]],
    needs: Mapping[str, set[str]],
    *,
    undo: Callable[[list[str]], list[str]],
) -> list[str]:
    """Run every step once what it needs has finished, independent ones in parallel; return the finishing order.

    On the first failure nothing new starts, the steps under way finish, `undo` is handed the finished steps (latest
    first) and returns what it stopped, and the failure is raised naming its step, what was stopped and what never
    started.
    """
    unknown = {need for wanted in needs.values() for need in wanted} - set(steps)
    if unknown:
        raise ValueError(f"steps need {sorted(unknown)}, which are not steps")
    done: list[str] = []
    failed: tuple[str, BaseException] | None = None
    running: dict[Future[None], str] = {}
    waiting = dict(steps)
    with ThreadPoolExecutor(max_workers=max(1, len(steps)), thread_name_prefix="start") as pool:
        while waiting or running:
            if failed is None:
                for name in [n for n in waiting if needs.get(n, set()) <= set(done)]:
                    running[pool.submit(waiting.pop(name))] = name
            if not running:
                break  # a failure left the rest waiting, or a cycle (refused before: a step would never run)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                error = future.exception()
                if error is None:
                    done.append(name)
                elif failed is None:
                    failed = (name, error)
    if failed is None:
        if waiting:
            raise ValueError(f"steps that can never start (a cycle): {sorted(waiting)}")
        return done
    name, error = failed
    stopped = undo(list(reversed(done)))
    raise _named(name, error, stopped=stopped, not_started=sorted(waiting))


def _named(name: str, error: BaseException, *, stopped: list[str], not_started: list[str]) -> BaseException:
    """The first failure, its step named first, with what was stopped and what never started."""
    after = []
    if stopped:
        after.append(f"stopped what this run had started: {', '.join(stopped)}")
    if not_started:
        after.append(f"not started: {', '.join(not_started)}")
    facts = {"failed_service": name, "stopped": stopped, "not_started": not_started}
    if not isinstance(error, InfraError):
        where = _where(error)
        facts["raised_at"] = where
        failure = StepFailed(
            f"{name} failed: {type(error).__name__}: {error} (raised at {where})", hint="; ".join(after), details=facts
        )
        failure.__cause__ = error
        return failure
    if not error.message.startswith(name):
        error.message = f"{name}: {error.message}"
    error.details.update(facts)
    if after:
        error.hint = "; ".join([*([error.hint] if error.hint else []), *after])
    return error


def _where(error: BaseException) -> str:
    """Where an unexpected error was raised (file:line in function), so a report of it can be acted on."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "an unknown place"
    last = frames[-1]
    try:
        path = str(Path(last.filename).relative_to(Path.cwd()))
    except ValueError:
        path = last.filename
    return f"{path}:{last.lineno} in {last.name}"
