"""RDS Proxy checks: available, TLS required, its targets available and pointing at the stack's database."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from cli.verify import identify
from cli.verify.aws import is_not_found
from cli.verify.context import Context
from cli.verify.model import Check, Status, Unverifiable, judge

FAMILY = "proxy"


def describe_proxy(ctx: Context, name: str) -> dict[str, Any]:
    """The proxy as DescribeDBProxies returns it."""
    try:
        return ctx.client("rds").describe_db_proxies(DBProxyName=name)["DBProxies"][0]
    except ClientError as exc:
        if is_not_found(exc, "DBProxyNotFoundFault", "DBProxyNotFound"):
            raise Unverifiable("exists", f"RDS has no proxy {name}", "the proxy exists", name) from exc
        raise


def describe_targets(ctx: Context, name: str) -> list[dict[str, Any]]:
    """The proxy's targets (instances and tracked clusters)."""
    pages = ctx.client("rds").get_paginator("describe_db_proxy_targets").paginate(DBProxyName=name)
    return [target for page in pages for target in page.get("Targets", [])]


def check_available(proxy: dict[str, Any]) -> Check:
    """The proxy is available (creating or modifying only warns)."""
    state = proxy.get("Status", "unknown")
    status = Status.PASS if state == "available" else Status.WARN if state in ("creating", "modifying") else Status.FAIL
    return Check(FAMILY, "available", status, f"status {state}", "status available", proxy["DBProxyName"])


def check_tls(proxy: dict[str, Any]) -> Check:
    """Clients must use TLS."""
    required = bool(proxy.get("RequireTLS"))
    return judge(
        FAMILY,
        "TLS required",
        required,
        "TLS required" if required else "TLS not required (plain connections accepted)",
        "TLS required",
        proxy["DBProxyName"],
    )


def _describe_target(target: dict[str, Any]) -> str:
    health = target.get("TargetHealth") or {}
    text = f"{target.get('RdsResourceId', '?')} {health.get('State', 'UNKNOWN')}"
    detail = health.get("Description") or health.get("Reason")
    return f"{text} ({detail})" if detail else text


def check_targets(name: str, targets: list[dict[str, Any]], instance: str) -> Check:
    """Every instance target is available, and the stack's database is among them."""
    instances = [t for t in targets if t.get("Type") == "RDS_INSTANCE"]
    expected = f"{instance} registered and AVAILABLE"
    if not instances:
        return judge(FAMILY, "targets available", False, "no database registered behind the proxy", expected, name)
    states = [(t.get("TargetHealth") or {}).get("State", "UNKNOWN") for t in instances]
    observed = ", ".join(_describe_target(t) for t in instances)
    if instance not in [t.get("RdsResourceId") for t in instances]:
        return judge(FAMILY, "targets available", False, f"{observed}; {instance} is not a target", expected, name)
    if all(state == "AVAILABLE" for state in states):
        return judge(FAMILY, "targets available", True, observed, expected, name)
    warn = all(state in ("AVAILABLE", "REGISTERING") for state in states)
    return judge(FAMILY, "targets available", False, observed, expected, name, warn=warn)


def verify(ctx: Context) -> list[Check]:
    """Every proxy check."""
    name = identify.proxy_name(ctx)
    proxy = describe_proxy(ctx, name)
    checks = [check_available(proxy), check_tls(proxy)]
    checks.append(check_targets(name, describe_targets(ctx, name), identify.database_instance(ctx)))
    return checks
