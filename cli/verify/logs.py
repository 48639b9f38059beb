"""Log group checks: each of the stack's log groups exists and expires its events as the settings say."""

from __future__ import annotations

from typing import Any

from cli.verify import identify
from cli.verify.context import Context
from cli.verify.model import Check, judge

FAMILY = "log groups"


def describe_group(ctx: Context, name: str) -> dict[str, Any] | None:
    """The log group named exactly `name`, or None."""
    answer = ctx.client("logs").describe_log_groups(logGroupNamePrefix=name, limit=50)
    return next((g for g in answer.get("logGroups", []) if g.get("logGroupName") == name), None)


def check_retention(name: str, group: dict[str, Any] | None, days: int) -> Check:
    """The group exists and has a retention (a different one than the settings only warns)."""
    expected = f"events kept {days} days (logRetentionDays)"
    if group is None:
        return judge(FAMILY, "retention", False, "no such log group", expected, name)
    kept = group.get("retentionInDays")
    if not kept:
        return judge(FAMILY, "retention", False, "no retention: events never expire", expected, name)
    return judge(FAMILY, "retention", int(kept) == days, f"events kept {kept} days", expected, name, warn=True)


def verify(ctx: Context) -> list[Check]:
    """A retention check per log group."""
    days = int(ctx.settings.log_retention_days)
    return [check_retention(name, describe_group(ctx, name), days) for name in identify.log_group_names(ctx)]
