"""Dashboard check: the stack's CloudWatch dashboard exists and has widgets."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from cli.verify import identify
from cli.verify.aws import is_not_found
from cli.verify.context import Context
from cli.verify.model import Check, judge

FAMILY = "dashboard"


def widget_count(body: str) -> int:
    """Number of widgets in a dashboard body (0 when the body is not a dashboard document)."""
    try:
        document = json.loads(body or "{}")
    except ValueError:
        return 0
    widgets = document.get("widgets") if isinstance(document, dict) else None
    return len(widgets) if isinstance(widgets, list) else 0


def check_dashboard(name: str, body: str | None) -> Check:
    """The dashboard exists with at least one widget."""
    expected = "the dashboard exists with widgets"
    if body is None:
        return judge(FAMILY, "exists with widgets", False, "no such dashboard", expected, name)
    count = widget_count(body)
    return judge(FAMILY, "exists with widgets", count > 0, f"{count} widget(s)", expected, name)


def dashboard_body(ctx: Context, name: str) -> str | None:
    """The dashboard's body, or None when it does not exist."""
    try:
        return str(ctx.client("cloudwatch").get_dashboard(DashboardName=name).get("DashboardBody", ""))
    except ClientError as exc:
        if is_not_found(exc, "ResourceNotFound", "ResourceNotFoundException"):
            return None
        raise


def verify(ctx: Context) -> list[Check]:
    """The dashboard check."""
    name = identify.dashboard_name(ctx)
    return [check_dashboard(name, dashboard_body(ctx, name))]
