"""Identifiers of the stack's resources: from the outputs when exported, otherwise derived from names and ARNs."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from cli.verify.aws import is_not_found
from cli.verify.context import Context
from cli.verify.model import MissingOutput, Unverifiable
from stacks import outputs as out

_DASHBOARD_IN_URL = re.compile(r"#dashboards(?:/dashboard/|:name=)([^/?&#]+)")
RDS_LOG_EXPORTS = ("postgresql", "upgrade")
"""Database logs exported to CloudWatch; each goes to /aws/rds/instance/<id>/<log>."""


def first_label(host: str) -> str:
    """The first DNS label of a host name or `host:port` endpoint."""
    return host.split(":", 1)[0].split(".", 1)[0]


def normalise_dns(name: str) -> str:
    """A DNS name compared as Route53 and ELB spell it: lower case, no trailing dot, no `dualstack.`."""
    name = name.lower().rstrip(".")
    return name.removeprefix("dualstack.")


def _named_or_from_endpoint(ctx: Context, name_output: str, endpoint_output: str, what: str) -> str:
    """A name output, or else the first label of the matching endpoint output (RDS names its endpoints so)."""
    value = ctx.output(name_output)
    if value:
        return str(value)
    endpoint = ctx.output(endpoint_output)
    if endpoint:
        return first_label(str(endpoint))
    raise MissingOutput(name_output, what)


def database_instance(ctx: Context) -> str:
    """The RDS instance identifier: the output, or the first label of the database endpoint."""
    return _named_or_from_endpoint(ctx, out.DATABASE_INSTANCE, out.DATABASE_ENDPOINT, "database instance identifier")


def proxy_name(ctx: Context) -> str:
    """The RDS Proxy name: the output, or the first label of the proxy endpoint."""
    return _named_or_from_endpoint(ctx, out.PROXY_NAME, out.PROXY_ENDPOINT, "RDS Proxy name")


def host_name(ctx: Context) -> str:
    """The service's public host name: the output, or the settings' subdomain and domain."""
    return str(ctx.output(out.SERVICE_HOST) or ctx.settings.host_name)


def service_description(ctx: Context) -> dict[str, Any]:
    """The ECS service as DescribeServices returns it (once per run)."""
    cluster = str(ctx.require(out.CLUSTER_NAME, "ECS cluster name"))
    service = str(ctx.require(out.SERVICE_NAME, "ECS service name"))

    def describe() -> dict[str, Any]:
        answer = ctx.client("ecs").describe_services(cluster=cluster, services=[service])
        found = answer.get("services") or []
        if not found:
            reason = (answer.get("failures") or [{}])[0].get("reason", "MISSING")
            raise Unverifiable(
                "exists", f"ECS has no service {service} in cluster {cluster} ({reason})", "the service exists", service
            )
        return found[0]

    return ctx.remember("service", describe)


def load_balancer(ctx: Context) -> dict[str, Any]:
    """The load balancer: by the ARN output, or the one whose DNS name is the `load_balancer_dns` output."""

    def find() -> dict[str, Any]:
        elbv2 = ctx.client("elbv2")
        arn = ctx.output(out.LOAD_BALANCER_ARN)
        if arn:
            try:
                return elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
            except ClientError as exc:
                if is_not_found(exc, "LoadBalancerNotFound"):
                    raise Unverifiable("exists", f"no load balancer {arn}", "the load balancer exists", arn) from exc
                raise
        dns = normalise_dns(str(ctx.require(out.LOAD_BALANCER_DNS, "load balancer DNS name")))
        for page in elbv2.get_paginator("describe_load_balancers").paginate():
            for item in page.get("LoadBalancers", []):
                if normalise_dns(item.get("DNSName", "")) == dns:
                    return item
        raise Unverifiable("exists", f"no load balancer has the DNS name {dns}", "the load balancer exists", dns)

    return ctx.remember("load_balancer", find)


def listeners(ctx: Context) -> list[dict[str, Any]]:
    """The load balancer's listeners."""

    def describe() -> list[dict[str, Any]]:
        arn = load_balancer(ctx)["LoadBalancerArn"]
        pages = ctx.client("elbv2").get_paginator("describe_listeners").paginate(LoadBalancerArn=arn)
        return [listener for page in pages for listener in page.get("Listeners", [])]

    return ctx.remember("listeners", describe)


def listener_on(ctx: Context, port: int) -> dict[str, Any] | None:
    """The listener on `port`, if any."""
    return next((item for item in listeners(ctx) if item.get("Port") == port), None)


def target_group_arn(ctx: Context) -> str:
    """The service's target group: the output, the service's load balancer entry, or the HTTPS forward action."""
    value = ctx.output(out.TARGET_GROUP_ARN)
    if value:
        return str(value)
    try:
        entries = service_description(ctx).get("loadBalancers", [])
    except Unverifiable:
        entries = []
    for entry in entries:
        if entry.get("targetGroupArn"):
            return str(entry["targetGroupArn"])
    https = listener_on(ctx, 443)
    for action in (https or {}).get("DefaultActions", []):
        if action.get("TargetGroupArn"):
            return str(action["TargetGroupArn"])
    raise MissingOutput(out.TARGET_GROUP_ARN, "target group ARN")


def certificate_arn(ctx: Context) -> str:
    """The ACM certificate: the output, or the default certificate of the HTTPS listener."""
    value = ctx.output(out.CERTIFICATE_ARN)
    if value:
        return str(value)
    https = listener_on(ctx, 443)
    for cert in (https or {}).get("Certificates", []):
        if cert.get("CertificateArn"):
            return str(cert["CertificateArn"])
    raise MissingOutput(out.CERTIFICATE_ARN, "ACM certificate ARN")


def zone_id(ctx: Context) -> str:
    """The Route53 zone: the output, or the public zone named after the settings' domain."""
    value = ctx.output(out.ZONE_ID)
    if value:
        return str(value).removeprefix("/hostedzone/")
    domain = ctx.settings.domain.rstrip(".") + "."
    answer = ctx.client("route53").list_hosted_zones_by_name(DNSName=domain)
    for zone in answer.get("HostedZones", []):
        if zone.get("Name") == domain and not zone.get("Config", {}).get("PrivateZone", False):
            return str(zone["Id"]).removeprefix("/hostedzone/")
    raise Unverifiable("zone", f"no public hosted zone named {domain}", "the domain's public hosted zone", domain)


def dashboard_name(ctx: Context) -> str:
    """The dashboard: the output, or the name at the end of the dashboard URL."""
    value = ctx.output(out.DASHBOARD_NAME)
    if value:
        return str(value)
    url = ctx.output(out.DASHBOARD_URL)
    match = _DASHBOARD_IN_URL.search(str(url or ""))
    if match:
        return match.group(1)
    raise MissingOutput(out.DASHBOARD_NAME, "CloudWatch dashboard name")


def alarm_prefix(ctx: Context) -> str:
    """Prefix the stack's alarms share with its dashboard (`<monitoring name>-`)."""
    return dashboard_name(ctx).removesuffix("-dashboard") + "-"


def log_group_names(ctx: Context) -> list[str]:
    """Log groups: the output, or the service's group and the database's exported-log groups."""
    value = ctx.output(out.LOG_GROUPS)
    if value:
        return [str(name) for name in value]
    names = [str(ctx.require(out.LOG_GROUP, "service log group name"))]
    instance = database_instance(ctx)
    names += [f"/aws/rds/instance/{instance}/{log}" for log in RDS_LOG_EXPORTS]
    return names


def bucket_names(ctx: Context) -> list[tuple[str, str]]:
    """The stack's buckets as (role, name): the application bucket and the log bucket."""
    return [
        ("app", str(ctx.require(out.APP_BUCKET, "application bucket name"))),
        ("logs", str(ctx.require(out.LOG_BUCKET, "log bucket name"))),
    ]
