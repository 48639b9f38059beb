"""Cache and worker checks: the cache is encrypted, signs clients in and fails over; the worker runs privately."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from cli.verify.aws import is_not_found
from cli.verify.context import Context
from cli.verify.model import Check, Unverifiable, judge
from stacks import outputs as out

FAMILY = "cache"


def describe_group(ctx: Context, group_id: str) -> dict[str, Any]:
    """The replication group as DescribeReplicationGroups returns it."""
    try:
        return ctx.client("elasticache").describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][
            0
        ]
    except ClientError as exc:
        if is_not_found(exc, "ReplicationGroupNotFoundFault"):
            raise Unverifiable("exists", f"ElastiCache has no group {group_id}", "the cache exists", group_id) from exc
        raise


def check_group(group: dict[str, Any], *, protected: bool) -> list[Check]:
    """Available, TLS and at-rest encryption, authentication, and (on protected stacks) failover and snapshots."""
    name = group["ReplicationGroupId"]
    status = group.get("Status", "unknown")
    checks = [
        judge(
            FAMILY,
            "available",
            status == "available",
            f"status {status}",
            "status available",
            name,
            warn=status in ("creating", "modifying", "snapshotting"),
        ),
        judge(
            FAMILY,
            "encrypted in transit",
            bool(group.get("TransitEncryptionEnabled")),
            "TLS on" if group.get("TransitEncryptionEnabled") else "TLS off (clear-text connections)",
            "TLS on",
            name,
        ),
        judge(
            FAMILY,
            "encrypted at rest",
            bool(group.get("AtRestEncryptionEnabled")),
            "on" if group.get("AtRestEncryptionEnabled") else "off",
            "on",
            name,
        ),
    ]
    users = group.get("UserGroupIds") or []
    signed_in = bool(users) or bool(group.get("AuthTokenEnabled"))
    observed = f"user groups {', '.join(users)}" if users else "AUTH token" if signed_in else "no authentication"
    checks.append(judge(FAMILY, "authentication", signed_in, observed, "a user group or an AUTH token", name))
    # ElastiCache enables automatic failover only with a replica, so the two flags say it all.
    failover = group.get("AutomaticFailover") == "enabled" and group.get("MultiAZ") == "enabled"
    checks.append(
        judge(
            FAMILY,
            "failover",
            failover,
            f"automatic failover {group.get('AutomaticFailover')}, multi-AZ {group.get('MultiAZ')}",
            "multi-AZ automatic failover with a replica",
            name,
            warn=not protected,
        )
    )
    snapshots = int(group.get("SnapshotRetentionLimit") or 0)
    checks.append(
        judge(
            FAMILY,
            "snapshots",
            snapshots > 0,
            f"{snapshots} day(s) kept",
            "daily snapshots kept",
            name,
            warn=not protected,
        )
    )
    return checks


def verify(ctx: Context) -> list[Check]:
    """Every cache check; a stack without a cache has none."""
    group_id = ctx.output(out.CACHE_REPLICATION_GROUP)
    if group_id is None:
        return []
    return check_group(describe_group(ctx, str(group_id)), protected=bool(getattr(ctx.settings, "protect", False)))
