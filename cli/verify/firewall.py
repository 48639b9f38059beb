"""Firewall checks: the load balancer answers through the web ACL, which limits each client and blocks attacks."""

from __future__ import annotations

from typing import Any

from cli.verify import identify
from cli.verify.context import Context
from cli.verify.model import Check, Unverifiable, judge
from stacks import outputs as out

FAMILY = "firewall"
MANAGED = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet")
"""Managed groups the web ACL must hold."""


def acl_of_load_balancer(ctx: Context) -> dict[str, Any] | None:
    """The web ACL associated with the stack's load balancer, or None."""
    arn = identify.load_balancer(ctx)["LoadBalancerArn"]
    return ctx.client("wafv2").get_web_acl_for_resource(ResourceArn=arn).get("WebACL")


def check_rules(acl: dict[str, Any]) -> list[Check]:
    """A blocking rate-based rule per client address, and the managed groups."""
    name = acl.get("Name", "?")
    rules = acl.get("Rules") or []
    rate = [
        r for r in rules if "RateBasedStatement" in (r.get("Statement") or {}) and "Block" in (r.get("Action") or {})
    ]
    limits = ", ".join(str(r["Statement"]["RateBasedStatement"].get("Limit")) for r in rate)
    managed = {(r.get("Statement") or {}).get("ManagedRuleGroupStatement", {}).get("Name") for r in rules} - {None}
    missing = [group for group in MANAGED if group not in managed]
    return [
        judge(
            FAMILY,
            "rate limit",
            bool(rate),
            f"rate rule limit {limits}" if rate else "no blocking rate rule",
            "a rate-based rule that blocks",
            name,
        ),
        judge(
            FAMILY,
            "managed rules",
            not missing,
            "all present" if not missing else "missing " + ", ".join(missing),
            ", ".join(MANAGED),
            name,
        ),
    ]


def verify(ctx: Context) -> list[Check]:
    """Every firewall check; a stack that declares no web ACL has none."""
    declared = ctx.output(out.WEB_ACL_ARN)
    if declared is None:
        return []
    acl = acl_of_load_balancer(ctx)
    if acl is None:
        raise Unverifiable("associated", "the load balancer has no web ACL", f"associated with {declared}", declared)
    checks = [
        judge(
            FAMILY,
            "associated",
            acl.get("ARN") == declared,
            f"web ACL {acl.get('ARN')}",
            str(declared),
            acl.get("Name", ""),
        )
    ]
    return checks + check_rules(acl)
