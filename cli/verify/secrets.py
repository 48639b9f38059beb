"""Secret checks: each rotated secret rotates with a Lambda on the settings' schedule, on time, and none is stuck."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from cli.verify.aws import is_not_found
from cli.verify.context import Context
from cli.verify.model import Check, Status, Unverifiable, judge
from infra.limits import MAX_ROTATION_DAYS
from stacks import outputs as out

FAMILY = "secrets"
SECRETS = ((out.DATABASE_SECRET_ARN, "ARN of the proxy's database credentials secret"),)
"""The rotated secrets: the output holding each one's ARN (never printed) and what it is."""
GRACE_DAYS = 1
"""A rotation this many days later than its interval is not yet overdue."""


def describe_secret(ctx: Context, output: str, what: str) -> dict[str, Any]:
    """The secret's metadata as DescribeSecret returns it: never its value."""
    arn = str(ctx.require(output, what))
    try:
        return ctx.client("secretsmanager").describe_secret(SecretId=arn)
    except ClientError as exc:
        if is_not_found(exc, "ResourceNotFoundException"):
            observed = f"Secrets Manager has no secret at the ARN in output {output!r}"
            raise Unverifiable("exists", observed, "the secret exists", output) from exc
        raise


def rotation_days(secret: dict[str, Any]) -> int | None:
    """The secret's rotation interval in days, if it has one."""
    days = (secret.get("RotationRules") or {}).get("AutomaticallyAfterDays")
    return int(days) if days else None


def check_rotates(secret: dict[str, Any], wanted: int) -> Check:
    """Rotation is on, with a Lambda, every `wanted` days or less (longer up to 90 warns, longer still fails)."""
    name = secret["Name"]
    expected = f"rotated by a Lambda function every {wanted} days or less (secretRotationDays)"
    function = str(secret.get("RotationLambdaARN") or "").rsplit(":function:", 1)[-1]
    days = rotation_days(secret)
    if not secret.get("RotationEnabled"):
        return judge(FAMILY, "rotates", False, "rotation disabled: the value never changes", expected, name)
    if not function:
        return judge(FAMILY, "rotates", False, "rotation enabled without a Lambda function", expected, name)
    if days is None:
        observed = f"rotated by Lambda function {function}, no interval in days"
        return Check(FAMILY, "rotates", Status.WARN, observed, expected, name)
    observed = f"rotated every {days} days by Lambda function {function}"
    if days > MAX_ROTATION_DAYS:
        return judge(FAMILY, "rotates", False, f"{observed}: more than {MAX_ROTATION_DAYS}", expected, name)
    return judge(FAMILY, "rotates", days <= wanted, observed, expected, name, warn=True)


def check_on_time(secret: dict[str, Any], interval: int, now: datetime) -> Check:
    """The last rotation (or the creation, before the first) is at most one interval and a day of grace old."""
    name = secret["Name"]
    expected = f"rotated within {interval + GRACE_DAYS} days (every {interval} days plus {GRACE_DAYS} day of grace)"
    rotated = secret.get("LastRotatedDate")
    since = rotated or secret.get("CreatedDate")
    if since is None:
        return Check(FAMILY, "rotation on time", Status.WARN, "no rotation or creation date", expected, name)
    days = (now - since).days
    observed = f"last rotated {days} days ago" if rotated else f"created {days} days ago, never rotated"
    if now - since > timedelta(days=interval + GRACE_DAYS):
        return judge(FAMILY, "rotation on time", False, f"rotation overdue: {observed}", expected, name)
    return judge(FAMILY, "rotation on time", True, observed, expected, name)


def check_not_stuck(secret: dict[str, Any]) -> Check:
    """No version is labelled AWSPENDING without also being AWSCURRENT (a rotation under way or failed)."""
    stages = (secret.get("VersionIdsToStages") or {}).values()
    stuck = any("AWSPENDING" in labels and "AWSCURRENT" not in labels for labels in stages)
    observed = (
        "a version is labelled AWSPENDING but not AWSCURRENT: a rotation is in progress or failed "
        "(see the rotation function's log)"
        if stuck
        else "no pending version"
    )
    expected = "no version labelled AWSPENDING unless it is AWSCURRENT"
    return judge(FAMILY, "no rotation stuck", not stuck, observed, expected, secret["Name"], warn=True)


def secret_checks(ctx: Context, output: str, what: str) -> list[Check]:
    """Every check of one secret; a missing output or secret fails this secret only."""
    try:
        secret = describe_secret(ctx, output, what)
    except Unverifiable as missing:
        return [Check(FAMILY, missing.name, Status.FAIL, missing.observed, missing.expected, missing.resource)]
    wanted = int(ctx.settings.secret_rotation_days)
    return [
        check_rotates(secret, wanted),
        check_on_time(secret, rotation_days(secret) or wanted, ctx.now),
        check_not_stuck(secret),
    ]


def verify(ctx: Context) -> list[Check]:
    """Every secret check, secret by secret."""
    return [check for output, what in SECRETS for check in secret_checks(ctx, output, what)]
