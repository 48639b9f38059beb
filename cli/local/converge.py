"""The steps of a local `up`: each service brought to the plan, in dependency order, a changed API as a release."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from cli.local import release_flow, startup
from cli.local.services import ApiService, BucketService, DatabaseService, Service, TaskService

LocalStack = Any
"""cli/local/stack.py's LocalStack, which drives this module (named here without importing it back)."""

FOLLOW_THE_LIVE_API = ("tls", "prometheus", "scheduler")
"""What is configured with the live API's port: after a release moved it to the other slot, these are converged as
the release left them (nginx already switched, Prometheus and the scheduler follow)."""


def converge_all(stack: LocalStack, services: list[Service], before: dict[str, Any], sql: dict[str, Any]) -> None:
    """Bring every service to the plan, independent ones at the same time; a changed API goes through the release
    (blue/green behind nginx, migrated and checked first), and what follows its port waits for it."""
    by_name = {service.name: service for service in services}
    releasing = before["api"].action != "same"
    steps = {service.name: _converge_step(stack, service, before[service.name], sql) for service in services}
    if releasing:
        steps["api"] = _release_step(by_name["api"], by_name["tls"], before["api"].action, stack)
        applied = dict(stack._state().get("applied", {}))
        for name in FOLLOW_THE_LIVE_API:
            if name in by_name:
                steps[name] = _after_release_step(stack, name, sql, before, applied.get(name))
    for service in services:
        if type(service).finish is not Service.finish:  # its follow-up work is a step nothing waits for
            service.deferred = True
            steps[startup.finishing(service.name)] = _finish_step(stack, service)
    # The release's migration runs in the API's step (on the version it starts); this step only orders the tasks
    # after the data services.
    steps[startup.MIGRATION] = lambda: None
    tasks = [s.name for s in services if isinstance(s, ApiService | TaskService)]
    needs = startup.service_needs(list(steps), tasks, identity=bool(stack.spec().get("identity")))
    if releasing:
        # The workers and the scheduler never run a newer schema than the API: they wait for its release.
        for name in (*tasks, *FOLLOW_THE_LIVE_API):
            if name in needs and name != "api":
                needs[name].add("api")
    was_running = {name for name, state in before.items() if state.pid is not None}
    startup.run_in_order(steps, needs, undo=lambda done: startup.stop_started(by_name, was_running, done))


def _converge_step(stack: LocalStack, service: Service, before: Any, sql: dict[str, Any]) -> Callable[[], None]:
    """Bring the service to the plan and record what it runs with; the database also gets its objects."""

    def step() -> None:
        startup.converge(service, before.action)
        with stack._state_lock:
            if not service.deferred:
                stack._record(service)
            if isinstance(service, DatabaseService):
                if before.action == "create":
                    stack._forget_objects()  # a cluster made (again) holds none of them yet
                sql.update(stack._apply_objects(service.cluster))

    return step


def _release_step(api: Service, edge: Service, action: str, stack: LocalStack) -> Callable[[], None]:
    """The changed API as a release: started beside the running one, checked through nginx's test port, switched."""

    def step() -> None:
        release_flow.release_api(stack, api, edge, action)

    return step


def _after_release_step(
    stack: LocalStack, name: str, sql: dict[str, Any], before: dict[str, Any], applied: Any
) -> Callable[[], None]:
    """A service that follows the live API's port, converged as the release left the stack (its slot may have moved).
    When the release changed it (nginx switched, Prometheus and the scheduler followed), `before` says it updated."""

    def step() -> None:
        with stack._state_lock:
            service = next(s for s in stack.services() if s.name == name)
            state = next(s for s in stack.status() if s.name == name)
        _converge_step(stack, service, state, sql)()
        moved = stack._state().get("applied", {}).get(name) != applied
        if moved and before[name].action == "same":
            before[name] = dataclasses.replace(before[name], changed=True)

    return step


def _finish_step(stack: LocalStack, service: Service) -> Callable[[], None]:
    """The service's follow-up work (the first base backup, the buckets), then what it runs with is recorded."""

    def step() -> None:
        service.finish()
        with stack._state_lock:
            extra = {"s3_buckets": service.fingerprints()} if isinstance(service, BucketService) else {}
            stack._record(service, **extra)

    return step
