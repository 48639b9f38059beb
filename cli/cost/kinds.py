"""What each resource type is billed for: quantities per month from the plan's inputs, by price dimension."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cli.core import resource_types
from cli.cost import dimensions as d
from cli.cost.dimensions import HOURS_PER_MONTH, Dimension
from cli.cost.usage import Usage

HOURS = Decimal(HOURS_PER_MONTH)


@dataclasses.dataclass(frozen=True)
class Quantity:
    """A monthly quantity of one price dimension, with the words a reader sees."""

    label: str
    amount: Decimal
    unit: str
    dimension: Dimension


@dataclasses.dataclass
class Found:
    """What a rule found for one resource: quantities, usage-priced notes, or why it cannot be priced."""

    quantities: list[Quantity] = dataclasses.field(default_factory=list)
    usage_notes: list[str] = dataclasses.field(default_factory=list)
    reason: str = ""


class Context:
    """The plan's resources and the usage, with the lookups rules share."""

    def __init__(self, plan: dict[str, Any], usage: Usage) -> None:
        self.plan = plan
        self.usage = usage
        custom = [r for r in plan["resources"] if r.get("custom")]
        self.providers = {r["urn"]: r for r in custom if r["type"].startswith("pulumi:providers:")}
        self.resources = [r for r in custom if not r["type"].startswith("pulumi:providers:")]
        self.by_urn = {r["urn"]: r for r in self.resources}
        self.quantities: list[tuple[Any, list[Quantity]]] = []
        """What the rules found so far, by resource cost; the estimate reads it back for the dimensions needed."""

    def region_of(self, resource: dict[str, Any]) -> str:
        """The resource's own `region` input, else its provider's, else the stack's."""
        own = resource.get("inputs", {}).get("region")
        if isinstance(own, str) and own:
            return own
        provider = self.providers.get(resource.get("provider", ""))
        region = provider.get("inputs", {}).get("region") if provider else None
        return region if isinstance(region, str) and region else self.plan.get("region", "")

    def count(self, token: str) -> int:
        return sum(1 for r in self.resources if r["type"] == token)

    def referenced(self, resource: dict[str, Any], key: str, token: str) -> list[dict[str, Any]]:
        urns = resource.get("property_dependencies", {}).get(key, [])
        return [self.by_urn[u] for u in urns if u in self.by_urn and self.by_urn[u]["type"] == token]


Rule = Callable[[dict[str, Any], str, Context], Found]


def _hours(label: str, count: int | Decimal, dimension: Dimension, each: str) -> Quantity:
    amount = Decimal(count) * HOURS
    return Quantity(f"{label} ({count} x {HOURS_PER_MONTH} h)" if count != 1 else label, amount, each, dimension)


def _usage(resource: dict[str, Any], context: Context, key: str, share: int, unit: str, dim: Dimension) -> Quantity:
    amount = context.usage.get(key) / share if share else Decimal(0)
    return Quantity(f"{key} from the usage file ({amount.normalize():f} {unit})", amount, unit, dim)


def nat_gateway(resource: dict[str, Any], region: str, context: Context) -> Found:
    found = Found([_hours("gateway hours", 1, d.nat_gateway_hours(region), "hours")])
    if context.usage.get("nat_gateway_gb") > 0:
        share = context.count(resource_types.EC2_NAT_GATEWAY)
        found.quantities.append(_usage(resource, context, "nat_gateway_gb", share, "GB", d.nat_gateway_bytes(region)))
    else:
        found.usage_notes.append("data processed per GB (usage key nat_gateway_gb, default 0)")
    return found


def elastic_ip(resource: dict[str, Any], region: str, context: Context) -> Found:
    return Found([_hours("public IPv4 address hours", 1, d.public_ipv4(region), "hours")])


def db_instance(resource: dict[str, Any], region: str, context: Context) -> Found:
    args = resource.get("inputs", {})
    engine, instance_class = args.get("engine"), args.get("instanceClass")
    if engine != "postgres" or not isinstance(instance_class, str):
        return Found(reason=f"only PostgreSQL instances are priced (engine {engine!r}, class {instance_class!r})")
    # Multi-AZ (one standby) bills the primary and the standby, instance hours and storage alike.
    copies = 2 if args.get("multiAz") else 1
    where = "primary and standby" if copies == 2 else "single AZ"
    storage_type = args.get("storageType") or "gp2"
    storage = Decimal(args.get("allocatedStorage") or 0) * copies
    found = Found(
        [
            _hours(
                f"{instance_class} instance hours, {where}", copies, d.rds_instance(region, instance_class), "hours"
            ),
            Quantity(
                f"{storage_type} storage ({args.get('allocatedStorage')} GB x {copies})",
                storage,
                "GB-month",
                d.rds_storage(region, storage_type),
            ),
        ],
        usage_notes=["backup storage beyond the allocated size, per GB-month"],
    )
    if (args.get("performanceInsightsRetentionPeriod") or 7) > 7:
        found.usage_notes.append("Performance Insights retention beyond 7 days, per vCPU (not priced)")
    if args.get("maxAllocatedStorage"):
        found.usage_notes.append(f"storage autoscaling up to {args['maxAllocatedStorage']} GB")
    return found


def db_proxy(resource: dict[str, Any], region: str, context: Context) -> Found:
    """RDS Proxy bills the vCPUs of the instance behind it (at least 2), found through the proxy's target."""
    targets = [
        t
        for t in context.resources
        if t["type"] == resource_types.RDS_PROXY_TARGET and resource["urn"] in _all_dependencies(t)
    ]
    instances = [i for t in targets for i in context.referenced(t, "dbInstanceIdentifier", resource_types.RDS_INSTANCE)]
    if len(instances) != 1:
        return Found(reason=f"the proxy's target instance is not in the plan ({len(instances)} found)")
    instance_class = instances[0].get("inputs", {}).get("instanceClass", "")
    vcpus = instance_vcpus(instance_class)
    if vcpus is None:
        return Found(reason=f"the vCPU count of {instance_class!r} is not known")
    billed = max(vcpus, 2)
    return Found([_hours(f"vCPU hours of {instance_class} ({billed} vCPU)", billed, d.rds_proxy(region), "vCPU-hours")])


def load_balancer(resource: dict[str, Any], region: str, context: Context) -> Found:
    args = resource.get("inputs", {})
    if args.get("loadBalancerType", "application") != "application":
        return Found(reason=f"only application load balancers are priced ({args.get('loadBalancerType')})")
    found = Found([_hours("load balancer hours", 1, d.load_balancer_hours(region), "hours")])
    if not args.get("internal"):
        # An internet-facing load balancer holds one public IPv4 address per zone (subnet).
        zones = len(args.get("subnets") or []) or len(args.get("subnetMappings") or [])
        found.quantities.append(
            _hours("public IPv4 address hours, one per zone", zones, d.public_ipv4(region), "hours")
        )
    lcu = context.usage.get("load_balancer_lcu")
    if lcu > 0:
        found.quantities.append(
            Quantity(
                f"load_balancer_lcu from the usage file ({lcu:f} LCU)",
                lcu * HOURS,
                "LCU-hours",
                d.load_balancer_lcu(region),
            )
        )
    else:
        found.usage_notes.append("capacity units per LCU-hour (usage key load_balancer_lcu, default 0)")
    return found


def fargate_service(resource: dict[str, Any], region: str, context: Context) -> Found:
    """Fargate tasks at the declared desired count, each with the task definition's vCPU and memory."""
    args = resource.get("inputs", {})
    if args.get("launchType") != "FARGATE":
        return Found(reason=f"only Fargate services are priced (launchType {args.get('launchType')!r})")
    tasks = context.referenced(resource, "taskDefinition", resource_types.ECS_TASK_DEFINITION)
    if len(tasks) != 1:
        return Found(reason="the service's task definition is not in the plan")
    task = tasks[0].get("inputs", {})
    platform = task.get("runtimePlatform") or {}
    if platform.get("operatingSystemFamily", "LINUX") != "LINUX":
        return Found(reason=f"only Linux tasks are priced ({platform.get('operatingSystemFamily')})")
    arm = platform.get("cpuArchitecture") == "ARM64"
    count = int(args.get("desiredCount") or 0)
    vcpu, memory_gb = Decimal(str(task.get("cpu", 0))) / 1024, Decimal(str(task.get("memory", 0))) / 1024
    arch = "ARM" if arm else "x86"
    return Found(
        [
            Quantity(
                f"{count} tasks x {vcpu:f} vCPU x {HOURS_PER_MONTH} h ({arch})",
                count * vcpu * HOURS,
                "vCPU-hours",
                d.fargate_vcpu(region, arm),
            ),
            Quantity(
                f"{count} tasks x {memory_gb:f} GB x {HOURS_PER_MONTH} h ({arch})",
                count * memory_gb * HOURS,
                "GB-hours",
                d.fargate_memory(region, arm),
            ),
        ],
        usage_notes=["tasks above the desired count while autoscaling"],
    )


def cache_group(resource: dict[str, Any], region: str, context: Context) -> Found:
    """One node per cache cluster of the group: the primary and its replicas."""
    args = resource.get("inputs", {})
    node_type, engine = args.get("nodeType"), args.get("engine") or "redis"
    if not isinstance(node_type, str):
        return Found(reason="the group has no nodeType")
    nodes = int(args.get("numCacheClusters") or 1)
    label = f"{node_type} node hours, primary" + (f" and {nodes - 1} replica(s)" if nodes > 1 else "")
    return Found(
        [_hours(label, nodes, d.cache_node(region, node_type, engine), "hours")],
        usage_notes=["snapshot storage beyond one free snapshot per node"],
    )


def ec2_instance(resource: dict[str, Any], region: str, context: Context) -> Found:
    args = resource.get("inputs", {})
    instance_type = args.get("instanceType")
    if not isinstance(instance_type, str):
        return Found(reason="the instance has no instanceType")
    found = Found(
        [_hours(f"{instance_type} instance hours (Linux)", 1, d.ec2_instance(region, instance_type), "hours")]
    )
    root = args.get("rootBlockDevice") or {}
    if root.get("volumeSize"):
        volume_type = root.get("volumeType") or "gp3"
        found.quantities.append(
            Quantity(
                f"{volume_type} root volume ({root['volumeSize']} GB)",
                Decimal(root["volumeSize"]),
                "GB-month",
                d.ebs_volume(region, volume_type),
            )
        )
    return found


def kms_key(resource: dict[str, Any], region: str, context: Context) -> Found:
    return Found([Quantity("key-month", Decimal(1), "keys", d.kms_key(region))], ["requests beyond the free tier"])


def web_acl(resource: dict[str, Any], region: str, context: Context) -> Found:
    """A web ACL and each of its rules (a managed rule group counts as one rule) by the month, requests by usage."""
    rules = len(resource.get("inputs", {}).get("rules") or [])
    found = Found(
        [
            Quantity("web ACL-month", Decimal(1), "web ACLs", d.waf_web_acl(region)),
            Quantity(f"{rules} rules", Decimal(rules), "rules", d.waf_rule(region)),
        ]
    )
    millions = context.usage.get("waf_million_requests")
    if millions > 0:
        label = f"waf_million_requests from the usage file ({millions:f} million)"
        found.quantities.append(Quantity(label, millions, "million requests", d.waf_requests(region)))
    else:
        found.usage_notes.append("requests inspected, per million (usage key waf_million_requests, default 0)")
    return found


def metric_alarm(resource: dict[str, Any], region: str, context: Context) -> Found:
    """Standard-resolution alarms by the month, one per metric they watch (metric math counts each metric)."""
    args = resource.get("inputs", {})
    queries = [q for q in args.get("metricQueries") or [] if q.get("metric")]
    periods = [args.get("period")] + [(q.get("metric") or {}).get("period") for q in queries]
    if any(isinstance(p, int) and p < 60 for p in periods):
        return Found(reason="high-resolution alarms (period under 60 s) are not priced")
    metrics = len(queries) or 1
    return Found([Quantity(f"alarm metric-months ({metrics})", Decimal(metrics), "alarm metrics", d.alarm(region))])


def dashboard(resource: dict[str, Any], region: str, context: Context) -> Found:
    note = "the first 3 dashboards of an account are free; priced here at the list price"
    return Found([Quantity("dashboard-month", Decimal(1), "dashboards", d.dashboard(region))], [note])


def log_group(resource: dict[str, Any], region: str, context: Context) -> Found:
    ingested = context.usage.get("log_ingestion_gb")
    if ingested <= 0:
        return Found(usage_notes=["data ingested and stored, per GB (usage key log_ingestion_gb, default 0)"])
    share = context.count(resource_types.CLOUDWATCH_LOG_GROUP)
    return Found([_usage(resource, context, "log_ingestion_gb", share, "GB", d.log_ingestion(region))])


def secret(resource: dict[str, Any], region: str, context: Context) -> Found:
    return Found([Quantity("secret-month", Decimal(1), "secrets", d.secret(region))], ["API calls per 10,000"])


def hosted_zone(resource: dict[str, Any], region: str, context: Context) -> Found:
    return Found([Quantity("hosted zone-month", Decimal(1), "zones", d.hosted_zone(region))], ["queries per million"])


_VCPUS_BY_SIZE = {"micro": 2, "small": 2, "medium": 2, "large": 2, "xlarge": 4}
_CLASS = re.compile(r"db\.(?P<family>[a-z0-9]+)\.(?:(?P<n>\d+)xlarge|(?P<size>micro|small|medium|large|xlarge))")


def instance_vcpus(instance_class: str) -> int | None:
    """vCPUs of the burstable (t) and general, memory and compute (m, r, c) DB instance classes."""
    match = _CLASS.fullmatch(instance_class)
    if match is None or match["family"][0] not in "tmrc":
        return None
    if match["n"]:
        return 4 * int(match["n"])
    if match["family"][0] != "t" and match["size"] in ("micro", "small", "medium"):
        return None
    return _VCPUS_BY_SIZE[match["size"]]


def _all_dependencies(resource: dict[str, Any]) -> set[str]:
    found = set(resource.get("dependencies", []))
    for urns in resource.get("property_dependencies", {}).values():
        found.update(urns)
    return found


PRICED: dict[str, Rule] = {
    resource_types.EC2_NAT_GATEWAY: nat_gateway,
    resource_types.EC2_EIP: elastic_ip,
    resource_types.RDS_INSTANCE: db_instance,
    resource_types.RDS_PROXY: db_proxy,
    resource_types.LB_LOAD_BALANCER: load_balancer,
    resource_types.ECS_SERVICE: fargate_service,
    resource_types.ELASTICACHE_REPLICATION_GROUP: cache_group,
    resource_types.EC2_INSTANCE: ec2_instance,
    resource_types.KMS_KEY: kms_key,
    resource_types.WAFV2_WEB_ACL: web_acl,
    resource_types.CLOUDWATCH_METRIC_ALARM: metric_alarm,
    resource_types.CLOUDWATCH_DASHBOARD: dashboard,
    resource_types.CLOUDWATCH_LOG_GROUP: log_group,
    resource_types.SECRETSMANAGER_SECRET: secret,
    resource_types.ROUTE53_ZONE: hosted_zone,
}
"""Resource types with a fixed monthly price, and the rule that finds their quantities."""

USAGE_ONLY: dict[str, str] = {
    resource_types.S3_BUCKET: "storage per GB-month, requests and data transfer",
    resource_types.ECR_REPOSITORY: "image storage per GB-month",
    resource_types.BACKUP_VAULT: "recovery point storage per GB-month (and cross-region copy transfer)",
    resource_types.EC2_FLOW_LOG: "flow log data delivered, per GB",
    resource_types.SCHEDULER_SCHEDULE: "invocations beyond the free tier; the tasks it runs, per second",
    resource_types.LAMBDA_FUNCTION: "requests and duration (GB-seconds)",
    resource_types.SERVERLESSREPOSITORY_CLOUD_FORMATION_STACK: "the rotation function's requests and duration",
    resource_types.SNS_TOPIC: "publishes and deliveries",
    resource_types.WAFV2_WEB_ACL_LOGGING_CONFIGURATION: "log data delivered, per GB",
    resource_types.ACM_CERTIFICATE: "nothing for a public certificate; private certificates per month",
    resource_types.ROUTE53_RECORD: "queries per million (alias queries to AWS resources are free)",
    resource_types.ECS_CLUSTER: "Container Insights metrics, per metric-month",
}
"""Resource types billed only by usage the plan cannot state: listed, never counted in the total."""

FREE = frozenset(
    {
        resource_types.ACM_CERTIFICATE_VALIDATION,
        resource_types.APPAUTOSCALING_POLICY,
        resource_types.APPAUTOSCALING_TARGET,
        resource_types.BACKUP_PLAN,
        resource_types.BACKUP_SELECTION,
        resource_types.BACKUP_VAULT_LOCK_CONFIGURATION,
        resource_types.EC2_DEFAULT_SECURITY_GROUP,
        resource_types.EC2_INTERNET_GATEWAY,
        resource_types.EC2_ROUTE,
        resource_types.EC2_ROUTE_TABLE,
        resource_types.EC2_ROUTE_TABLE_ASSOCIATION,
        resource_types.EC2_SECURITY_GROUP,
        resource_types.EC2_SUBNET,
        resource_types.EC2_VPC,
        resource_types.ECR_LIFECYCLE_POLICY,
        resource_types.ECS_TASK_DEFINITION,
        resource_types.ELASTICACHE_PARAMETER_GROUP,
        resource_types.ELASTICACHE_SUBNET_GROUP,
        resource_types.ELASTICACHE_USER,
        resource_types.ELASTICACHE_USER_GROUP,
        resource_types.IAM_INSTANCE_PROFILE,
        resource_types.IAM_ROLE,
        resource_types.IAM_ROLE_POLICY,
        resource_types.IAM_ROLE_POLICY_ATTACHMENT,
        resource_types.LAMBDA_PERMISSION,
        resource_types.LB_LISTENER,
        resource_types.LB_LISTENER_RULE,
        resource_types.LB_TARGET_GROUP,
        resource_types.RDS_PARAMETER_GROUP,
        resource_types.RDS_PROXY_DEFAULT_TARGET_GROUP,
        resource_types.RDS_PROXY_TARGET,
        resource_types.RDS_SUBNET_GROUP,
        resource_types.S3_BUCKET_LIFECYCLE_CONFIGURATION,
        resource_types.S3_BUCKET_LOGGING,
        resource_types.S3_BUCKET_OWNERSHIP_CONTROLS,
        resource_types.S3_BUCKET_POLICY,
        resource_types.S3_BUCKET_PUBLIC_ACCESS_BLOCK,
        resource_types.S3_BUCKET_SERVER_SIDE_ENCRYPTION_CONFIGURATION,
        resource_types.S3_BUCKET_VERSIONING,
        resource_types.SCHEDULER_SCHEDULE_GROUP,
        resource_types.SECRETSMANAGER_SECRET_ROTATION,
        resource_types.SECRETSMANAGER_SECRET_VERSION,
        resource_types.VPC_SECURITY_GROUP_EGRESS_RULE,
        resource_types.VPC_SECURITY_GROUP_INGRESS_RULE,
        resource_types.WAFV2_WEB_ACL_ASSOCIATION,
        resource_types.DOCKER_BUILD_IMAGE,
        resource_types.POSTGRESQL_DATABASE,
        resource_types.POSTGRESQL_DEFAULT_PRIVILEGES,
        resource_types.POSTGRESQL_GRANT,
        resource_types.POSTGRESQL_ROLE,
        resource_types.RANDOM_ID,
        resource_types.RANDOM_PASSWORD,
    }
)
"""Resource types AWS does not bill for (configuration of other resources, or not AWS at all)."""
