"""Cache: ElastiCache for Valkey in private subnets, TLS and IAM sign-in required, encrypted with its own key."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra import key_policy, require, require_log_retention, service_key_use, type_token
from infra.dashboards import AlarmSpec
from infra.keys import KeyArns
from infra.limits import (
    CACHE_ENGINE_VERSIONS,
    CACHE_EVICTION_POLICIES,
    CACHE_MAX_REPLICAS,
    CACHE_MAX_SNAPSHOT_DAYS,
    CACHE_NODE_TYPE,
    CACHE_RESERVED_MEMORY_PERCENT,
)
from infra.panels import Metric, Panel

TYPE = type_token("cache", "Cache")

APP_ACCESS = "on ~* +@all -@dangerous"
"""What the application user may do: every key, every command but the dangerous ones (FLUSHALL, CONFIG, ...)."""
_GROUP_ID = re.compile(r"[a-z](?!.*--)[a-z0-9-]{0,35}[a-z0-9]")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CacheArgs:
    """Inputs of a Cache."""

    region: str
    """Region of the cache (the key may be used only through ElastiCache there)."""
    account_id: pulumi.Input[str]
    """Account that administers the cache's key."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets (two or more zones) the nodes may live in."""
    security_group_id: pulumi.Input[str]
    """Security group that admits only the service and the worker."""
    node_type: str = "cache.t4g.micro"
    """ElastiCache node type."""
    engine_version: str = "8.0"
    """Valkey version."""
    replicas: int = 1
    """Replicas beside the primary; one or more turns on multi-AZ automatic failover."""
    snapshot_retention_days: int = 7
    """Days of daily snapshots kept (0 turns snapshots off)."""
    eviction_policy: str = "allkeys-lru"
    """What Valkey evicts when memory is full."""
    reserved_memory_percent: int = CACHE_RESERVED_MEMORY_PERCENT
    """Share of the node's memory kept outside the data set: the data set is bounded by the rest."""
    log_retention_days: int = 30
    """Retention of the slow log."""
    keys: KeyArns = dataclasses.field(default_factory=KeyArns)
    """Customer keys to encrypt with (the stack's own on protected stacks); AWS-managed keys where None."""
    port: int = 6379
    """Port clients connect to."""
    cpu_alarm_percent: int = 80
    """Engine CPU that raises the alarm."""
    memory_alarm_percent: int = 90
    """Memory used, as a percentage of maxmemory, that raises the alarm."""
    evictions_per_minute: int = 1000
    """Evictions per minute that raise the alarm (some eviction is a cache doing its job)."""
    protect: bool = True
    """Protect the replication group: its stream holds relayed events not yet applied."""
    connections_alarm: int = 5000
    """Client connections on one node that raise the alarm."""
    replication_lag_seconds: int = 5
    """Replica lag that raises the alarm (only with replicas)."""


class Cache(pulumi.ComponentResource):
    """A Valkey replication group reachable only from the service and the worker, over TLS with a password."""

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        group_id = replication_group_id(name)
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.username = f"{group_id}-app"

        # Encrypts the nodes' data and snapshots at rest, with yearly rotation of the key material.
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{name}: encrypts the cache at rest and its snapshots",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: key_policy(account, [service_key_use(account, "elasticache", args.region)])
            ),
            opts=child,
        )
        # The nodes may only be placed in the private subnets.
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            name=f"{group_id}-subnets",
            description=f"{name}: private subnets",
            subnet_ids=list(args.subnet_ids),
            opts=child,
        )
        # A cache's eviction policy: the least useful keys go when memory is full, writes never fail for room.
        parameter_group = aws.elasticache.ParameterGroup(
            f"{name}-params",
            name=f"{group_id}-params",
            family=CACHE_ENGINE_VERSIONS[args.engine_version],
            description=f"{name}: {args.eviction_policy} eviction",
            parameters=[
                {"name": "maxmemory-policy", "value": args.eviction_policy},
                {"name": "reserved-memory-percent", "value": str(args.reserved_memory_percent)},
            ],
            opts=child,
        )
        # A password nobody is given, for the default user below (ElastiCache requires one for a password user).
        default_password = random.RandomPassword(f"{name}-default-password", length=64, special=False, opts=child)
        # The default user every user group must hold, switched off: nobody signs in without IAM.
        default_user = aws.elasticache.User(
            f"{name}-default-user",
            user_id=f"{group_id}-default",
            user_name="default",
            engine="valkey",
            access_string="off -@all",
            authentication_mode={
                "type": "password",
                "passwords": [pulumi.Output.secret(default_password.result)],
            },
            opts=child,
        )
        # The service's and the worker's user: IAM sign-in (no password anywhere), no dangerous commands.
        self.app_user = aws.elasticache.User(
            f"{name}-app-user",
            user_id=self.username,
            user_name=self.username,
            engine="valkey",
            access_string=APP_ACCESS,
            authentication_mode={"type": "iam"},
            opts=child,
        )
        # The users the replication group accepts.
        user_group = aws.elasticache.UserGroup(
            f"{name}-users",
            user_group_id=f"{group_id}-users",
            engine="valkey",
            user_ids=[default_user.user_id, self.app_user.user_id],
            opts=child,
        )
        # Slow commands, for finding what makes the cache slow.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-slow-log",
            name=f"/groundwork/{name}/slow-log",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.keys.logs,
            opts=child,
        )
        failover = args.replicas > 0
        # The replication group: TLS required, encrypted at rest, IAM users only, failover across zones with replicas.
        self.group = aws.elasticache.ReplicationGroup(
            f"{name}-group",
            replication_group_id=group_id,
            description=f"{name}: cache and broker of the service and the worker",
            engine="valkey",
            engine_version=args.engine_version,
            node_type=args.node_type,
            num_cache_clusters=1 + args.replicas,
            automatic_failover_enabled=failover,
            multi_az_enabled=failover,
            port=args.port,
            parameter_group_name=parameter_group.name,
            subnet_group_name=subnet_group.name,
            security_group_ids=[args.security_group_id],
            at_rest_encryption_enabled=True,
            kms_key_id=self.key.arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            user_group_ids=[user_group.user_group_id],
            auto_minor_version_upgrade=True,
            snapshot_retention_limit=args.snapshot_retention_days,
            snapshot_window="03:00-04:00" if args.snapshot_retention_days else None,
            maintenance_window="sun:04:30-sun:05:30",
            log_delivery_configurations=[
                {
                    "destination": self.log_group.name,
                    "destination_type": "cloudwatch-logs",
                    "log_format": "json",
                    "log_type": "slow-log",
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

        self.member_ids = [f"{group_id}-{index:03d}" for index in range(1, args.replicas + 2)]
        self.alarm_specs = alarm_specs(self.member_ids, args)
        self.panels = panels(self.member_ids)
        self.endpoint = self.group.primary_endpoint_address
        self.port = args.port
        self.url = pulumi.Output.concat("rediss://", self.endpoint, f":{args.port}/0")
        self.connect_arns = [self.group.arn, self.app_user.arn]
        self.log_group_name = self.log_group.name
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "url": self.url,
                "username": self.username,
                "replication_group_id": self.group.id,
                "log_group_name": self.log_group_name,
            }
        )


def replication_group_id(name: str) -> str:
    """The replication group's id for a component name: lowercase, at most 40 characters, as ElastiCache requires."""
    group_id = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", name.lower())).strip("-")[:32].rstrip("-")
    require(_GROUP_ID.fullmatch(group_id) is not None, "name", name, "a name that starts with a letter")
    return group_id


def alarm_specs(member_ids: Sequence[str], args: CacheArgs) -> list[AlarmSpec]:
    """CPU, memory, evictions and connections on every node; replication lag on the replicas."""
    specs: list[AlarmSpec] = []
    for index, member in enumerate(member_ids):
        node = {"CacheClusterId": member}
        short = member.rsplit("-", 1)[1]
        specs += [
            AlarmSpec(
                f"cache-{short}-cpu",
                f"Cache node {member}: engine CPU above {args.cpu_alarm_percent}%",
                "AWS/ElastiCache",
                "EngineCPUUtilization",
                node,
                "Average",
                args.cpu_alarm_percent,
                periods=3,
            ),
            AlarmSpec(
                f"cache-{short}-memory",
                f"Cache node {member}: memory above {args.memory_alarm_percent}% of maxmemory",
                "AWS/ElastiCache",
                "DatabaseMemoryUsagePercentage",
                node,
                "Average",
                args.memory_alarm_percent,
                periods=3,
            ),
            AlarmSpec(
                f"cache-{short}-evictions",
                f"Cache node {member}: more than {args.evictions_per_minute} evictions a minute",
                "AWS/ElastiCache",
                "Evictions",
                node,
                "Sum",
                args.evictions_per_minute,
            ),
            AlarmSpec(
                f"cache-{short}-connections",
                f"Cache node {member}: more than {args.connections_alarm} client connections",
                "AWS/ElastiCache",
                "CurrConnections",
                node,
                "Maximum",
                args.connections_alarm,
            ),
        ]
        if index > 0:
            specs.append(
                AlarmSpec(
                    f"cache-{short}-replication-lag",
                    f"Cache replica {member}: more than {args.replication_lag_seconds} s behind the primary",
                    "AWS/ElastiCache",
                    "ReplicationLag",
                    node,
                    "Maximum",
                    args.replication_lag_seconds,
                    periods=3,
                )
            )
    return specs


def panels(member_ids: Sequence[str]) -> list[Panel]:
    """Dashboard widgets: CPU and memory, hits and misses, evictions and connections, per node."""
    ns = "AWS/ElastiCache"

    def per_node(metric: str, stat: str) -> list[Metric]:
        return [
            Metric(ns, metric, {"CacheClusterId": member}, stat, label=f"{metric} {member}") for member in member_ids
        ]

    return [
        Panel(
            "Cache CPU and memory",
            per_node("EngineCPUUtilization", "Average") + per_node("DatabaseMemoryUsagePercentage", "Average"),
        ),
        Panel("Cache hits and misses", per_node("CacheHits", "Sum") + per_node("CacheMisses", "Sum")),
        Panel("Cache evictions and connections", per_node("Evictions", "Sum") + per_node("CurrConnections", "Maximum")),
        *([Panel("Cache replication lag", per_node("ReplicationLag", "Maximum")[1:])] if len(member_ids) > 1 else []),
    ]


def _validate(args: CacheArgs) -> None:
    """Raises ValueError naming the field and what is allowed."""
    require(
        args.engine_version in CACHE_ENGINE_VERSIONS,
        "engine_version",
        args.engine_version,
        ", ".join(CACHE_ENGINE_VERSIONS),
    )
    require(CACHE_NODE_TYPE.fullmatch(args.node_type) is not None, "node_type", args.node_type, "e.g. cache.t4g.micro")
    require(0 <= args.replicas <= CACHE_MAX_REPLICAS, "replicas", args.replicas, f"0 to {CACHE_MAX_REPLICAS}")
    days = args.snapshot_retention_days
    require(0 <= days <= CACHE_MAX_SNAPSHOT_DAYS, "snapshot_retention_days", days, f"0 to {CACHE_MAX_SNAPSHOT_DAYS}")
    require(
        args.eviction_policy in CACHE_EVICTION_POLICIES,
        "eviction_policy",
        args.eviction_policy,
        ", ".join(CACHE_EVICTION_POLICIES),
    )
    require(1024 <= args.port <= 65535, "port", args.port, "1024 to 65535")
    percent = args.reserved_memory_percent
    require(10 <= percent <= 90, "reserved_memory_percent", percent, "10 to 90")
    require(len(list(args.subnet_ids)) >= 2, "subnet_ids", len(list(args.subnet_ids)), "two or more subnets")
    require_log_retention(args.log_retention_days)
