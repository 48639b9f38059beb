"""Price dimensions: a stable key per thing AWS bills, and the Price List query that finds its on-demand price."""

from __future__ import annotations

import dataclasses

HOURS_PER_MONTH = 730
"""Hours in the month the estimate prices (the AWS Pricing Calculator's figure: 365 x 24 / 12)."""

USAGE_PREFIX = {
    "us-east-1": "",
    "us-east-2": "USE2-",
    "us-west-1": "USW1-",
    "us-west-2": "USW2-",
    "ca-central-1": "CAN1-",
    "eu-west-1": "EU-",
    "eu-west-2": "EUW2-",
    "eu-west-3": "EUW3-",
    "eu-central-1": "EUC1-",
    "eu-north-1": "EUN1-",
    "eu-south-1": "EUS1-",
    "ap-northeast-1": "APN1-",
    "ap-northeast-2": "APN2-",
    "ap-southeast-1": "APS1-",
    "ap-southeast-2": "APS2-",
    "ap-south-1": "APS3-",
    "sa-east-1": "SAE1-",
}
"""The prefix of a region's `usagetype` values in the Price List (us-east-1 has none)."""


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One thing AWS bills: its key in price tables, its unit, and how the Price List API finds it."""

    key: str
    """Stable name, e.g. `rds-instance/db.m7g.large`; the same in every region."""
    unit: str
    """The Price List unit of one price (Hrs, GB-Mo, vCPU-Hours, ...)."""
    service: str
    """Price List service code (AmazonRDS, AmazonEC2, ...)."""
    filters: tuple[tuple[str, str], ...]
    """Attribute filters (TERM_MATCH) besides the region; sorted."""

    def api_filters(self, region: str) -> list[dict[str, str]]:
        """The `Filters` of a GetProducts call for this dimension in `region`."""
        pairs = [("regionCode", region), *self.filters]
        return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in pairs]


def _dimension(key: str, unit: str, service: str, **filters: str) -> Dimension:
    return Dimension(key, unit, service, tuple(sorted(filters.items())))


def nat_gateway_hours(region: str) -> Dimension:
    return _dimension(
        "nat-gateway-hours", "Hrs", "AmazonEC2", productFamily="NAT Gateway", usagetype=_p(region, "NatGateway-Hours")
    )


def nat_gateway_bytes(region: str) -> Dimension:
    return _dimension(
        "nat-gateway-gb", "GB", "AmazonEC2", productFamily="NAT Gateway", usagetype=_p(region, "NatGateway-Bytes")
    )


def public_ipv4(region: str) -> Dimension:
    return _dimension("public-ipv4-hours", "Hrs", "AmazonVPC", usagetype=_p(region, "PublicIPv4:InUseAddress"))


def rds_instance(region: str, instance_class: str) -> Dimension:
    """PostgreSQL on RDS, Single-AZ: a Multi-AZ deployment is billed as two such instances."""
    return _dimension(
        f"rds-postgresql/{instance_class}",
        "Hrs",
        "AmazonRDS",
        instanceType=instance_class,
        databaseEngine="PostgreSQL",
        deploymentOption="Single-AZ",
    )


def rds_storage(region: str, storage_type: str) -> Dimension:
    return _dimension(
        f"rds-storage/{storage_type}", "GB-Mo", "AmazonRDS", usagetype=_p(region, f"RDS:{storage_type.upper()}-Storage")
    )


def rds_proxy(region: str) -> Dimension:
    return _dimension("rds-proxy-vcpu-hours", "vCPU-Hours", "AmazonRDS", productFamily="RDS Proxy")


def load_balancer_hours(region: str) -> Dimension:
    return _dimension(
        "alb-hours",
        "Hrs",
        "AWSELB",
        productFamily="Load Balancer-Application",
        usagetype=_p(region, "LoadBalancerUsage"),
    )


def load_balancer_lcu(region: str) -> Dimension:
    return _dimension(
        "alb-lcu-hours",
        "LCU-Hrs",
        "AWSELB",
        productFamily="Load Balancer-Application",
        usagetype=_p(region, "LCUUsage"),
    )


def fargate_vcpu(region: str, arm: bool) -> Dimension:
    name = "Fargate-ARM-vCPU-Hours:perCPU" if arm else "Fargate-vCPU-Hours:perCPU"
    return _dimension(f"fargate-{_arch(arm)}-vcpu-hours", "hours", "AmazonECS", usagetype=_p(region, name))


def fargate_memory(region: str, arm: bool) -> Dimension:
    name = "Fargate-ARM-GB-Hours" if arm else "Fargate-GB-Hours"
    return _dimension(f"fargate-{_arch(arm)}-gb-hours", "hours", "AmazonECS", usagetype=_p(region, name))


def cache_node(region: str, node_type: str, engine: str) -> Dimension:
    engine_name = {"valkey": "Valkey", "redis": "Redis", "memcached": "Memcached"}.get(engine, engine)
    return _dimension(
        f"elasticache-{engine}/{node_type}", "Hrs", "AmazonElastiCache", instanceType=node_type, cacheEngine=engine_name
    )


def ec2_instance(region: str, instance_type: str) -> Dimension:
    return _dimension(
        f"ec2-linux/{instance_type}",
        "Hrs",
        "AmazonEC2",
        instanceType=instance_type,
        operatingSystem="Linux",
        tenancy="Shared",
        preInstalledSw="NA",
        capacitystatus="Used",
    )


def ebs_volume(region: str, volume_type: str) -> Dimension:
    return _dimension(f"ebs/{volume_type}", "GB-Mo", "AmazonEC2", productFamily="Storage", volumeApiName=volume_type)


def kms_key(region: str) -> Dimension:
    return _dimension("kms-key-months", "Keys", "awskms", usagetype=_p(region, "KMS-Keys"))


def waf_web_acl(region: str) -> Dimension:
    return _dimension("waf-web-acl-months", "WebACL", "awswaf", usagetype=_p(region, "WebACLV2"))


def waf_rule(region: str) -> Dimension:
    return _dimension("waf-rule-months", "Rule", "awswaf", usagetype=_p(region, "RuleV2"))


def waf_requests(region: str) -> Dimension:
    return _dimension("waf-million-requests", "Requests", "awswaf", usagetype=_p(region, "RequestV2-Tier1"))


def alarm(region: str) -> Dimension:
    return _dimension(
        "cloudwatch-alarm-months", "Alarms", "AmazonCloudWatch", usagetype=_p(region, "CW:AlarmMonitorUsage")
    )


def dashboard(region: str) -> Dimension:
    return _dimension("cloudwatch-dashboard-months", "Dashboards", "AmazonCloudWatch", usagetype="DashboardsUsageHour")


def log_ingestion(region: str) -> Dimension:
    return _dimension(
        "cloudwatch-logs-ingested-gb", "GB", "AmazonCloudWatch", usagetype=_p(region, "DataProcessing-Bytes")
    )


def secret(region: str) -> Dimension:
    return _dimension(
        "secret-months", "Secrets", "AWSSecretsManager", usagetype=_p(region, "AWSSecretsManager-Secrets")
    )


def hosted_zone(region: str) -> Dimension:
    return _dimension("route53-hosted-zone-months", "HostedZone", "AmazonRoute53", usagetype="HostedZone")


def _p(region: str, usage: str) -> str:
    """A region's usage type; a region with no known prefix gets a value no product has, so nothing is guessed."""
    prefix = USAGE_PREFIX.get(region)
    return f"{prefix}{usage}" if prefix is not None else f"<unknown prefix for {region}>-{usage}"


def _arch(arm: bool) -> str:
    return "arm" if arm else "x86"
