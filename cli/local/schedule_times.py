"""When an EventBridge Scheduler expression fires next: rate(...), cron(...) (six AWS fields) or at(...), in a zone."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

UTC = dt.UTC
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_CRON = re.compile(r"cron\((.+)\)")


class ExpressionError(ValueError):
    """The local timer cannot compute the expression's times; the message names the expression."""


def check(expression: str, time_zone: str) -> None:
    """Raise ExpressionError when the expression or the zone cannot be evaluated here."""
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ExpressionError(f"time zone {time_zone!r} is not in the IANA database") from None
    moment = dt.datetime(2000, 1, 1, tzinfo=UTC)
    next_run(expression, time_zone, after=moment, anchor=moment)


def next_run(expression: str, time_zone: str, *, after: dt.datetime, anchor: dt.datetime) -> dt.datetime | None:
    """The first time strictly after `after` (UTC) the expression fires, or None when it never fires again.

    A rate counts from `anchor` (when the schedule was first seen); cron and at are wall-clock times of the zone.
    """
    rate = _RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).rstrip("s") + "s"
        if value < 1:
            raise ExpressionError(f"{expression}: a rate needs a value of 1 or more")
        period = dt.timedelta(**{unit: value})
        if after < anchor:
            return anchor + period
        return anchor + period * ((after - anchor) // period + 1)
    zone = zoneinfo.ZoneInfo(time_zone)
    at = _AT.fullmatch(expression)
    if at:
        when = dt.datetime.fromisoformat(at.group(1)).replace(tzinfo=zone).astimezone(UTC)
        return when if when > after else None
    cron = _CRON.fullmatch(expression)
    if cron:
        return _next_cron(expression, cron.group(1), zone, after)
    raise ExpressionError(f"{expression}: not a rate, cron or at expression")


def _next_cron(expression: str, fields: str, zone: zoneinfo.ZoneInfo, after: dt.datetime) -> dt.datetime | None:
    from pyawscron import AWSCron

    try:
        parsed = AWSCron(fields)
    except Exception as error:  # the parser raises bare exceptions of several kinds
        raise ExpressionError(f"{expression}: {error}") from None
    # The parser reads wall-clock fields: give it the zone's wall clock (labelled UTC), and read its answer back
    # as wall-clock time of the zone.
    wall = after.astimezone(zone).replace(tzinfo=UTC)
    for _ in range(4):  # a wall time that a daylight-saving change skips or repeats may land before `after`
        try:
            found = parsed.occurrence(wall).next()
        except Exception:  # the parser gives up (raises) on expressions that fire rarely or never
            return None
        if found is None:
            return None
        when = found.replace(tzinfo=zone).astimezone(UTC)
        if when > after:
            return when
        wall = found
    return None
