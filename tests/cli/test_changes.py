"""The change report folded from engine events, and the live progress lines."""

from __future__ import annotations

import io

from pulumi.automation import events as ev
from rich.console import Console

from cli.core.changes import ChangeReport, category
from cli.core.progress import LiveProgress
from tests.cli import events


def _fold(stream, kind="up"):
    report = ChangeReport(kind=kind, stack="dev")
    for event in stream:
        report.apply(event)
    return report


def test_every_op_type_has_a_category():
    for op in ev.OpType:
        assert category(op) in ("create", "update", "replace", "delete", "same"), op


def test_replacement_steps_are_one_replace():
    report = _fold(events.image_update("dev", planning=False))
    task = next(r for r in report.resources.values() if r.name == "main-task")
    assert task.op == "replace"
    assert task.detailed == {"containerDefinitions": "update-replace"}
    assert report.counts()["replace"] == 1


def test_summary_event_counts_win_over_seen_resources():
    stream = [*events.stack_step("dev", ev.OpType.CREATE), events.summary({ev.OpType.CREATE: 9})]
    assert _fold(stream).counts()["create"] == 9


def test_counts_without_a_summary_come_from_the_steps():
    stream = events.first_deploy("dev", planning=False)[:-1]
    report = _fold(stream)
    assert report.summary is None
    assert report.counts()["create"] == 4


def test_diagnostics_lose_colour_directives_and_ephemeral_ones_are_dropped():
    stream = [
        events.diagnostic("<{%fg 1%}>boom<{%reset%}>\n", severity="error"),
        events.diagnostic("downloading plugin", severity="info", ephemeral=True),
    ]
    report = _fold(stream)
    assert [d.message for d in report.diagnostics] == ["boom"]
    assert [d.message for d in report.errors()] == ["boom"]


def test_failed_step_stays_failed():
    report = _fold(events.failing_deploy("dev"))
    assert [r.name for r in report.failures()] == ["main-db"]
    assert not report.cancelled


def test_progress_prints_finished_resources_without_a_spinner_off_terminal():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=120)
    report = ChangeReport(kind="up", stack="dev")
    with LiveProgress(report, console, spinner=False) as progress:
        for event in events.failing_deploy("dev"):
            progress(event)
    text = buffer.getvalue()
    assert "created  main-vpc" in text
    assert "x failed  main-db" in text
    assert "error: creating RDS DB Instance" in text
    assert "\r" not in text
    assert "\x1b" not in text


def test_progress_is_silent_per_resource_while_planning():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=120)
    report = ChangeReport(kind="preview", stack="dev")
    with LiveProgress(report, console, spinner=False, planning=True) as progress:
        for event in events.first_deploy("dev", planning=True):
            progress(event)
    assert "created" not in buffer.getvalue()
    assert "warning: aws: the default VPC is not used" in buffer.getvalue()
    assert report.counts()["create"] == 5


def test_progress_with_a_spinner_on_a_terminal_stops_cleanly():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    report = ChangeReport(kind="up", stack="dev")
    with LiveProgress(report, console, spinner=True) as progress:
        for event in events.first_deploy("dev", planning=False):
            progress(event)
    assert progress._status is None
    assert "main-db" in buffer.getvalue()


def test_progress_prints_each_replacement_step_once():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=120)
    report = ChangeReport(kind="up", stack="dev")
    with LiveProgress(report, console, spinner=False) as progress:
        for event in events.image_update("dev", planning=False):
            progress(event)
    lines = [line.strip() for line in buffer.getvalue().splitlines()]
    task = [line for line in lines if "main-task" in line]
    assert task == [
        "created replacement  main-task aws:ecs/taskDefinition:TaskDefinition",
        "replaced  main-task aws:ecs/taskDefinition:TaskDefinition",
        "deleted original  main-task aws:ecs/taskDefinition:TaskDefinition",
    ]
    assert [line for line in lines if "main-vpc" in line] == []
