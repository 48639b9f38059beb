"""The `schedules` setting: scheduled jobs as a list of name, expression, command and time zone, checked up front."""

from __future__ import annotations

import dataclasses
import json
import shlex
from typing import Any

from infra.limits import EXPRESSION_HELP, SCHEDULE_NAME, command_problem, expression_problem, time_zone_known
from stacks.setting_types import Invalid, Kind

FIELDS = ("name", "expression", "command", "timeZone")
"""Keys of one entry; `timeZone` may be left out (UTC)."""
MAX_JOBS = 20
"""Scheduled jobs one stack may declare."""


@dataclasses.dataclass(frozen=True)
class Schedule:
    """One scheduled job of the stack."""

    name: str
    expression: str
    command: tuple[str, ...]
    time_zone: str = "UTC"


def _entry(index: int, raw: Any) -> Schedule:
    where = f"entry {index}"
    if isinstance(raw, Schedule):
        raw = {"name": raw.name, "expression": raw.expression, "command": list(raw.command), "timeZone": raw.time_zone}
    if not isinstance(raw, dict):
        raise Invalid(f"{where}: a mapping with {', '.join(FIELDS)}")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise Invalid(f"{where}: unknown key {unknown[0]!r}; keys: {', '.join(FIELDS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not SCHEDULE_NAME.fullmatch(name):
        raise Invalid(f"{where}: name of 1-64 letters, digits, . _ -")
    expression = raw.get("expression")
    problem = expression_problem(expression) if isinstance(expression, str) else "missing"
    if not isinstance(expression, str) or problem is not None:
        raise Invalid(f"{where} ({name}): expression {EXPRESSION_HELP} ({problem})")
    command = raw.get("command")
    if isinstance(command, str):
        try:
            command = shlex.split(command)
        except ValueError as error:
            raise Invalid(f"{where} ({name}): command a shell-quoted string or a list ({error})") from None
    if not isinstance(command, list) or command_problem(command) is not None:
        raise Invalid(f"{where} ({name}): command a non-empty list of strings, or one string")
    zone = raw.get("timeZone", "UTC")
    if not isinstance(zone, str) or not time_zone_known(zone):
        raise Invalid(f"{where} ({name}): timeZone an IANA time zone such as UTC or Europe/Paris")
    return Schedule(name, expression, tuple(command), zone)


def _to_schedules(value: Any) -> tuple[Schedule, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise Invalid("a list of jobs (name, expression, command, timeZone)") from None
    if not isinstance(value, list | tuple):
        raise Invalid("a list of jobs (name, expression, command, timeZone)")
    if len(value) > MAX_JOBS:
        raise Invalid(f"at most {MAX_JOBS} jobs")
    jobs = tuple(_entry(index, raw) for index, raw in enumerate(value))
    names = [job.name for job in jobs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise Invalid(f"jobs with different names ({duplicates[0]!r} is used twice)")
    return jobs


class _SchedulesKind(Kind):
    """A Kind whose error text names the entry and the field at fault, not only what the whole value may be."""

    def __call__(self, value: Any) -> Any:
        return _to_schedules(value)


SCHEDULES = _SchedulesKind(
    "a list of jobs, each with name, expression (rate(...), cron(...) or at(...)), command and optional timeZone",
    _to_schedules,
    structured=True,
)
"""What `groundwork:schedules` accepts."""
