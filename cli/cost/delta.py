"""The monthly change between two estimates, by resource and by kind: "+$98.55/month: 3 NAT gateways"."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from cli.cost.estimate import Estimate, dollars

NOUNS = {
    "aws:ec2/natGateway:NatGateway": ("NAT gateway", "NAT gateways"),
    "aws:ec2/eip:Eip": ("Elastic IP address", "Elastic IP addresses"),
    "aws:rds/instance:Instance": ("database instance", "database instances"),
    "aws:rds/proxy:Proxy": ("RDS proxy", "RDS proxies"),
    "aws:lb/loadBalancer:LoadBalancer": ("load balancer", "load balancers"),
    "aws:ecs/service:Service": ("Fargate service", "Fargate services"),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("cache group", "cache groups"),
    "aws:ec2/instance:Instance": ("EC2 instance", "EC2 instances"),
    "aws:kms/key:Key": ("KMS key", "KMS keys"),
    "aws:wafv2/webAcl:WebAcl": ("web ACL", "web ACLs"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("alarm", "alarms"),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboard", "dashboards"),
    "aws:cloudwatch/logGroup:LogGroup": ("log group", "log groups"),
    "aws:secretsmanager/secret:Secret": ("secret", "secrets"),
    "aws:route53/zone:Zone": ("hosted zone", "hosted zones"),
}
"""How a delta names resources of a type, one and several."""


@dataclasses.dataclass(frozen=True)
class KindDelta:
    """The monthly change of every resource of one type whose cost changed."""

    type: str
    change: Decimal
    count: int
    added: int
    removed: int
    changed: int

    def text(self) -> str:
        """+$98.55/month: 3 NAT gateways (3 added)"""
        singular, plural = NOUNS.get(self.type, (self.type.rsplit(":", 1)[-1], self.type.rsplit(":", 1)[-1] + "s"))
        parts = [
            f"{n} {word}"
            for n, word in ((self.added, "added"), (self.removed, "removed"), (self.changed, "changed"))
            if n
        ]
        noun = singular if self.count == 1 else plural
        return f"{signed(self.change)}/month: {self.count} {noun} ({', '.join(parts)})"


@dataclasses.dataclass
class CostDelta:
    """Base and head totals, the change by kind, and whether either side is partial."""

    before: Decimal
    after: Decimal
    kinds: list[KindDelta]
    by_resource: list[dict[str, Any]]
    partial: bool

    @property
    def change(self) -> Decimal:
        return self.after - self.before

    def headline(self) -> str:
        note = " (partial: some resources are unpriced)" if self.partial else ""
        return f"Monthly estimate {dollars(self.before)} → {dollars(self.after)}: {signed(self.change)}/month{note}"

    def to_json(self) -> dict[str, Any]:
        return {
            "before_monthly_usd": str(self.before.quantize(Decimal("0.01"))),
            "after_monthly_usd": str(self.after.quantize(Decimal("0.01"))),
            "change_monthly_usd": str(self.change.quantize(Decimal("0.01"))),
            "partial": self.partial,
            "by_kind": [
                {
                    "type": k.type,
                    "change_monthly_usd": str(k.change.quantize(Decimal("0.01"))),
                    "count": k.count,
                    "text": k.text(),
                }
                for k in self.kinds
            ],
            "by_resource": self.by_resource,
        }


def cost_delta(base: Estimate, head: Estimate) -> CostDelta:
    """Per URN, what the head costs minus what the base cost (absent on one side counts as 0)."""
    before = {r.urn: r for r in base.resources}
    after = {r.urn: r for r in head.resources}
    grouped: dict[str, list[tuple[str, Decimal]]] = {}
    rows = []
    for urn in sorted(before.keys() | after.keys()):
        old, new = before.get(urn), after.get(urn)
        change = (new.monthly if new else Decimal(0)) - (old.monthly if old else Decimal(0))
        if change == 0:
            continue
        how = "added" if old is None else "removed" if new is None else "changed"
        kind = (new or old).type  # type: ignore[union-attr]
        grouped.setdefault(kind, []).append((how, change))
        rows.append({"urn": urn, "type": kind, "how": how, "change_monthly_usd": str(change.quantize(Decimal("0.01")))})
    kinds = [
        KindDelta(
            kind,
            sum((c for _, c in items), Decimal(0)),
            len(items),
            sum(1 for how, _ in items if how == "added"),
            sum(1 for how, _ in items if how == "removed"),
            sum(1 for how, _ in items if how == "changed"),
        )
        for kind, items in grouped.items()
    ]
    kinds.sort(key=lambda k: (-abs(k.change), k.type))
    return CostDelta(base.total, head.total, kinds, rows, base.partial or head.partial)


def signed(value: Decimal) -> str:
    """+$98.55, -$3.65, +$0.00"""
    return ("-" if value < 0 else "+") + dollars(abs(value))


def plans_delta(base: dict[str, Any], head: dict[str, Any], tables: Any) -> tuple[CostDelta | None, str]:
    """The cost delta of two plans with the same prices, or None and why (a price table that cannot be trusted)."""
    from cli.cost.estimate import estimate
    from cli.cost.table import PriceCacheError

    try:
        return cost_delta(estimate(base, tables), estimate(head, tables)), ""
    except PriceCacheError as error:
        return None, error.message
