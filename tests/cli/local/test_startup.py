"""The dependency-ordered start: independent steps at the same time, each after what it needs, a failure named."""

from __future__ import annotations

import threading

import pytest

from cli.core.errors import OperationFailed
from cli.local import startup

NAMES = ["postgres", "pgbouncer", "cache", "api", "worker", "scheduler", "tls", "s3", "prometheus", startup.MIGRATION]


def test_the_local_services_wait_only_for_what_they_use():
    needs = startup.service_needs(NAMES, ["api", "worker"], identity=True)
    assert needs["postgres"] == needs["cache"] == needs["s3"] == needs["prometheus"] == set()
    assert needs["pgbouncer"] == {"postgres"}
    assert needs[startup.MIGRATION] == {"postgres", "pgbouncer", "cache"}
    assert needs["api"] == {startup.MIGRATION, "s3"}
    assert needs["worker"] == needs["scheduler"] == {startup.MIGRATION}
    assert needs["tls"] == {"api"}
    without = startup.service_needs([n for n in NAMES if n != "cache"], ["api"], identity=False)
    assert needs["api"] - without["api"] == {"s3"}
    assert without[startup.MIGRATION] == {"postgres", "pgbouncer"}


def test_independent_steps_run_at_the_same_time_and_the_rest_in_order():
    order: list[str] = []
    both = threading.Barrier(2, timeout=10)  # broken (an error) unless the two run at once

    def step(name: str, meet: bool = False):
        def run() -> None:
            if meet:
                both.wait()
            order.append(name)

        return run

    steps = {"a": step("a", meet=True), "b": step("b", meet=True), "c": step("c"), "d": step("d")}
    done = startup.run_in_order(steps, {"c": {"a", "b"}, "d": {"c"}}, undo=lambda finished: [])
    assert sorted(done[:2]) == ["a", "b"]
    assert done[2:] == ["c", "d"]
    assert order[2:] == ["c", "d"]


def test_the_first_failure_is_named_the_started_are_stopped_and_the_rest_never_start():
    started: list[str] = []
    undone: list[list[str]] = []
    release = threading.Event()

    def ok(name: str):
        return lambda: started.append(name)

    def slow() -> None:
        release.wait(10)  # still under way when its neighbour fails
        started.append("slow")

    def broken() -> None:
        release.set()
        raise OperationFailed("exited while starting", hint="see its log")

    steps = {"first": ok("first"), "slow": slow, "broken": broken, "after": ok("after")}
    needs = {"slow": {"first"}, "broken": {"first"}, "after": {"broken", "slow"}}

    def undo(finished: list[str]) -> list[str]:
        undone.append(finished)
        return finished

    with pytest.raises(OperationFailed) as raised:
        startup.run_in_order(steps, needs, undo=undo)
    error = raised.value
    assert error.message == "broken: exited while starting"
    assert "after" not in started
    assert undone == [["slow", "first"]], "the step under way finished, then everything started was undone"
    assert error.details == {"failed_service": "broken", "stopped": ["slow", "first"], "not_started": ["after"]}
    assert error.hint == "see its log; stopped what this run had started: slow, first; not started: after"


def test_an_unexpected_exception_is_named_too():
    def broken() -> None:
        raise OSError("disk full")

    with pytest.raises(startup.StepFailed) as info:
        startup.run_in_order({"s3": broken}, {}, undo=lambda finished: [])
    # An internal error says where it was raised, so a report of it can be acted on.
    where = f"tests/cli/local/test_startup.py:{broken.__code__.co_firstlineno + 1} in broken"
    assert info.value.message == f"s3 failed: OSError: disk full (raised at {where})"
    assert info.value.details["raised_at"] == where


def test_a_step_that_needs_no_step_or_a_cycle_is_refused():
    with pytest.raises(ValueError, match="not steps"):
        startup.run_in_order({"a": lambda: None}, {"a": {"ghost"}}, undo=lambda finished: [])
    with pytest.raises(ValueError, match="cycle"):
        startup.run_in_order({"a": lambda: None, "b": lambda: None}, {"a": {"b"}, "b": {"a"}}, undo=lambda f: [])
