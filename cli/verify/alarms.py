"""Alarm checks: the stack has alarms, and every one has actions enabled that notify someone."""

from __future__ import annotations

from typing import Any

from cli.verify import identify
from cli.verify.context import Context
from cli.verify.model import Check, Status, judge
from stacks import outputs as out

FAMILY = "alarms"


def find_alarms(ctx: Context) -> tuple[list[dict[str, Any]], list[str], str]:
    """The stack's metric and composite alarms, names exported but missing, and how they were found."""
    paginator = ctx.client("cloudwatch").get_paginator("describe_alarms")
    names = ctx.output(out.ALARM_NAMES)
    kinds = ["MetricAlarm", "CompositeAlarm"]
    if names:
        pages = paginator.paginate(AlarmNames=list(names), AlarmTypes=kinds)
        how = f"the {len(names)} alarm(s) in output {out.ALARM_NAMES!r}"
    else:
        prefix = identify.alarm_prefix(ctx)
        pages = paginator.paginate(AlarmNamePrefix=prefix, AlarmTypes=kinds)
        how = f"alarms named {prefix}*"
    alarms = [a for page in pages for a in page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])]
    missing = sorted(set(names or []) - {a["AlarmName"] for a in alarms})
    return alarms, missing, how


def check_found(alarms: list[dict[str, Any]], missing: list[str], how: str) -> Check:
    """The stack's alarms exist."""
    if missing:
        return judge(FAMILY, "alarms exist", False, f"missing: {', '.join(missing)}", how, "")
    return judge(FAMILY, "alarms exist", bool(alarms), f"{len(alarms)} alarm(s)", f"at least one of {how}", "")


def check_actions(alarm: dict[str, Any], topic: str | None) -> Check:
    """The alarm has actions, they are enabled, and (when known) they notify the stack's alarm topic."""
    name = alarm.get("AlarmName", "?")
    actions = list(alarm.get("AlarmActions", []))
    expected = f"actions enabled, notifying {topic}" if topic else "actions enabled with at least one alarm action"
    if not actions:
        return judge(FAMILY, "has actions", False, "no alarm actions: nobody is told when it fires", expected, name)
    if not alarm.get("ActionsEnabled", True):
        return judge(FAMILY, "has actions", False, "actions disabled", expected, name)
    observed = f"notifies {', '.join(actions)}"
    if topic and topic not in actions:
        return Check(FAMILY, "has actions", Status.WARN, observed + " (not the stack's alarm topic)", expected, name)
    return judge(FAMILY, "has actions", True, observed, expected, name)


def verify(ctx: Context) -> list[Check]:
    """Every alarm check."""
    alarms, missing, how = find_alarms(ctx)
    topic = ctx.output(out.ALARM_TOPIC_ARN)
    return [check_found(alarms, missing, how), *(check_actions(alarm, topic) for alarm in alarms)]
