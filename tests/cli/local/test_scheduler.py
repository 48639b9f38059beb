"""The local scheduler: when expressions fire (rate, cron in a zone, at), and the timer that runs the jobs."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli.local import scheduler
from cli.local.schedule_times import ExpressionError, check, next_run

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "zone", "after", "anchor", "expected"),
    [
        # A rate counts from when the schedule was first seen, not from the clock's round numbers.
        ("rate(5 minutes)", "UTC", "2026-11-30T18:20:05", "2026-11-30T18:01:30", "2026-11-30T18:21:30"),
        ("rate(1 day)", "Asia/Tokyo", "2026-11-30T18:20:05", "2026-11-30T18:00:00", "2026-12-01T18:00:00"),
        ("rate(1 hour)", "UTC", "2026-11-30T17:00:00", "2026-11-30T18:00:00", "2026-11-30T19:00:00"),
        # cron reads the zone's wall clock: 03:30 in Paris is 02:30 UTC in winter, 01:30 UTC in summer.
        ("cron(30 3 * * ? *)", "Europe/Paris", "2026-11-30T18:20:05", None, "2026-12-01T02:30:00"),
        ("cron(30 3 * * ? *)", "Europe/Paris", "2026-07-01T12:00:00", None, "2026-07-02T01:30:00"),
        # AWS's day of week: 1 is Sunday; MON-FRI skips the weekend.
        ("cron(0 10 ? * MON-FRI *)", "America/New_York", "2026-12-04T16:00:00", None, "2026-12-07T15:00:00"),
        ("cron(0 12 ? * 1 *)", "UTC", "2026-11-30T18:00:00", None, "2026-12-06T12:00:00"),
        ("cron(0/15 * * * ? *)", "UTC", "2026-11-30T18:00:00", None, "2026-11-30T18:15:00"),
        ("cron(0 8 L * ? *)", "UTC", "2026-02-10T00:00:00", None, "2026-02-28T08:00:00"),
        ("at(2026-12-24T18:00:00)", "Asia/Tokyo", "2026-11-30T18:20:05", None, "2026-12-24T09:00:00"),
    ],
)
def test_next_run(expression, zone, after, anchor, expected):
    anchor_time = at(anchor) if anchor else at(after)
    assert next_run(expression, zone, after=at(after), anchor=anchor_time) == at(expected)


def test_an_expression_that_never_fires_again_has_no_next_run():
    moment = at("2026-11-30T18:00:00")
    assert next_run("at(2020-01-01T00:00:00)", "UTC", after=moment, anchor=moment) is None
    assert next_run("cron(0 0 1 1 ? 2020)", "UTC", after=moment, anchor=moment) is None


@pytest.mark.parametrize(
    ("expression", "zone", "named"),
    [
        ("cron(x 3 * * ? *)", "UTC", "cron(x 3 * * ? *)"),
        ("every day", "UTC", "every day"),
        ("rate(1 day)", "Mars/Olympus_Mons", "Mars/Olympus_Mons"),
    ],
)
def test_an_expression_the_timer_cannot_compute_is_named(expression, zone, named):
    with pytest.raises(ExpressionError, match=re.escape(named)):
        check(expression, zone)


def _job(name: str, expression: str, command: list[str]) -> dict:
    return {
        "name": name,
        "expression": expression,
        "time_zone": "UTC",
        "enabled": True,
        "service": "api",
        "command": command,
        "environment": {},
    }


def _launcher(log: Path):
    def launch(job: dict) -> subprocess.Popen:
        with log.open("ab") as out:
            return subprocess.Popen(job["command"], stdout=out, stderr=subprocess.STDOUT)

    return launch


def _wait(process: subprocess.Popen) -> None:
    process.wait(timeout=30)


def test_the_timer_runs_a_job_at_its_time_and_records_its_exit(tmp_path):
    marker = tmp_path / "ran"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('ran\\n')"]
    timer = scheduler.Timer(tmp_path, [_job("touch", "rate(1 minute)", command)], _launcher(tmp_path / "jobs.log"))
    start = at("2026-11-30T18:00:00")
    timer.begin(start)
    assert timer.tick(start + dt.timedelta(seconds=59)) == []
    assert timer.tick(start + dt.timedelta(seconds=60)) == ["touch"]
    _wait(timer.running["touch"][0])
    timer.tick(start + dt.timedelta(seconds=61))
    assert marker.read_text() == "ran\n"
    state = json.loads((tmp_path / "run" / "schedules.json").read_text())
    assert state["jobs"]["touch"]["last_exit"] == 0
    assert state["jobs"]["touch"]["last_run"] == "2026-11-30T18:01:00+00:00"
    assert state["jobs"]["touch"]["next_run"] == "2026-11-30T18:02:00+00:00"


def test_a_rate_keeps_its_anchor_when_the_timer_starts_again(tmp_path):
    jobs = [_job("later", "rate(1 hour)", [sys.executable, "-c", "pass"])]
    first = scheduler.Timer(tmp_path, jobs, _launcher(tmp_path / "jobs.log"))
    first.begin(at("2026-11-30T18:00:00"))
    again = scheduler.Timer(tmp_path, jobs, _launcher(tmp_path / "jobs.log"))
    again.begin(at("2026-11-30T18:40:00"))  # an `up` restarted the timer 40 minutes in
    assert again.upcoming["later"] == at("2026-11-30T19:00:00")
    described = scheduler.describe(tmp_path, jobs, now=at("2026-11-30T18:41:00"))
    assert described[0]["next_run"] == "2026-11-30T19:00:00+00:00"


def test_an_anchor_the_state_file_garbled_is_taken_again_from_now(tmp_path):
    jobs = [_job("later", "rate(1 hour)", [sys.executable, "-c", "pass"])]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "schedules.json").write_text(json.dumps({"anchors": {"later|rate(1 hour)": "yesterday"}}))
    timer = scheduler.Timer(tmp_path, jobs, _launcher(tmp_path / "jobs.log"))
    timer.begin(at("2026-11-30T18:00:00"))
    assert timer.upcoming["later"] == at("2026-11-30T19:00:00")
    state = json.loads((tmp_path / "run" / "schedules.json").read_text())
    assert state["anchors"] == {"later|rate(1 hour)": "2026-11-30T18:00:00+00:00"}


def test_a_job_still_running_skips_its_next_time_and_is_stopped_with_the_timer(tmp_path):
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    timer = scheduler.Timer(tmp_path, [_job("slow", "rate(1 minute)", command)], _launcher(tmp_path / "jobs.log"))
    start = at("2026-11-30T18:00:00")
    timer.begin(start)
    assert timer.tick(start + dt.timedelta(minutes=1)) == ["slow"]
    process = timer.running["slow"][0]
    assert timer.tick(start + dt.timedelta(minutes=2)) == []  # skipped: the previous run goes on
    assert timer.upcoming["slow"] == start + dt.timedelta(minutes=3)
    timer.stop()
    assert process.poll() == -signal.SIGTERM  # ended by the timer's stop, not by finishing its 60 s sleep


def test_a_disabled_schedule_never_runs(tmp_path):
    job = {**_job("off", "rate(1 minute)", [sys.executable, "-c", "pass"]), "enabled": False}
    timer = scheduler.Timer(tmp_path, [job], _launcher(tmp_path / "jobs.log"))
    start = at("2026-11-30T18:00:00")
    timer.begin(start)
    assert timer.tick(start + dt.timedelta(days=1)) == []
    assert scheduler.describe(tmp_path, [job], now=start)[0]["next_run"] is None


def test_a_new_configuration_keeps_the_anchors_of_the_schedules_it_keeps(tmp_path):
    hourly = _job("hourly", "rate(1 hour)", [sys.executable, "-c", "pass"])
    timer = scheduler.Timer(tmp_path, [hourly], _launcher(tmp_path / "jobs.log"))
    timer.begin(at("2026-11-30T18:00:00"))
    daily = _job("daily", "rate(1 day)", [sys.executable, "-c", "pass"])
    timer.jobs = [hourly, daily]  # what `up` writes when the program adds a schedule
    timer.begin(at("2026-11-30T18:30:00"))
    assert timer.upcoming == {"hourly": at("2026-11-30T19:00:00"), "daily": at("2026-12-01T18:30:00")}
    timer.jobs = [daily]
    timer.begin(at("2026-11-30T18:45:00"))
    state = json.loads((tmp_path / "run" / "schedules.json").read_text())
    assert set(state["jobs"]) == {"daily"}
    assert list(state["anchors"]) == ["daily|rate(1 day)"]


def test_the_configuration_is_private_and_read_back_with_its_digest(tmp_path):
    config = {"schedules": [], "tasks": {"api": {"env": {"JWT_SECRET": "x" * 32}, "app_dir": "/app", "argv": []}}}
    digest = scheduler.write_config(tmp_path, config)
    assert scheduler.config_path(tmp_path).stat().st_mode & 0o077 == 0
    assert scheduler.read_config(tmp_path) == (config, digest)
