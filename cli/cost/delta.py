"""The monthly change between two estimates, by resource and by kind: "+$98.55/month: 3 NAT gateways"."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from cli.core import resource_types
from cli.cost.estimate import Estimate, dollars

NOUNS = {
    resource_types.EC2_NAT_GATEWAY: ("NAT gateway", "NAT gateways"),
    resource_types.EC2_EIP: ("Elastic IP address", "Elastic IP addresses"),
    resource_types.RDS_INSTANCE: ("database instance", "database instances"),
    resource_types.RDS_PROXY: ("RDS proxy", "RDS proxies"),
    resource_types.LB_LOAD_BALANCER: ("load balancer", "load balancers"),
    resource_types.ECS_SERVICE: ("Fargate service", "Fargate services"),
    resource_types.ELASTICACHE_REPLICATION_GROUP: ("cache group", "cache groups"),
    resource_types.EC2_INSTANCE: ("EC2 instance", "EC2 instances"),
    resource_types.KMS_KEY: ("KMS key", "KMS keys"),
    resource_types.WAFV2_WEB_ACL: ("web ACL", "web ACLs"),
    resource_types.CLOUDWATCH_METRIC_ALARM: ("alarm", "alarms"),
    resource_types.CLOUDWATCH_DASHBOARD: ("dashboard", "dashboards"),
    resource_types.CLOUDWATCH_LOG_GROUP: ("log group", "log groups"),
    resource_types.SECRETSMANAGER_SECRET: ("secret", "secrets"),
    resource_types.ROUTE53_ZONE: ("hosted zone", "hosted zones"),
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
