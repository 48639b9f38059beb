"""EventBridge Scheduler's rules for schedule names, expressions, time zones and commands; no cloud SDK imports."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from functools import cache

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""Schedule names EventBridge Scheduler accepts."""
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_AT = re.compile(r"at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?/,#L-]+")
EXPRESSION_HELP = (
    "rate(N minutes|hours|days), cron(min hour day-of-month month day-of-week year) or at(yyyy-mm-ddThh:mm:ss)"
)
"""What an expression may look like, for error messages."""


def expression_problem(expression: str) -> str | None:
    """Why EventBridge Scheduler would refuse the expression, or None when it is well formed."""
    if not isinstance(expression, str):
        return "not text"
    rate = _RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            return "a rate needs a value of 1 or more"
        if (value == 1) != (not unit.endswith("s")):
            return f"write rate({value} {unit.rstrip('s') if value == 1 else unit.rstrip('s') + 's'})"
        return None
    if _AT.fullmatch(expression):
        return None
    if expression.startswith("cron(") and expression.endswith(")"):
        fields = expression[5:-1].split(" ")
        if len(fields) != 6:
            return (
                f"a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), not {len(fields)}"
            )
        if not all(_CRON_FIELD.fullmatch(field) for field in fields):
            return "a cron field holds digits, names, and * ? / , - L # only"
        day_of_month, day_of_week = fields[2], fields[4]
        if (day_of_month == "?") == (day_of_week == "?"):
            return "exactly one of day-of-month and day-of-week must be ?"
        return None
    return "not a rate, cron or at expression"


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone_known(name: str) -> bool:
    """Whether the IANA time-zone database has the name (as EventBridge Scheduler expects)."""
    return isinstance(name, str) and name in _zones()


def command_problem(command: Sequence[str]) -> str | None:
    """Why a container command override is unusable, or None."""
    if isinstance(command, str) or not command:
        return "a non-empty list of strings"
    if not all(isinstance(part, str) and part and "\x00" not in part for part in command):
        return "a list of non-empty strings without NUL characters"
    return None
