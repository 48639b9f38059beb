"""The monthly estimate of a plan: each resource's priced lines, what is free or priced only by usage, the total."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cli.cost.dimensions import Dimension
from cli.cost.kinds import FREE, PRICED, USAGE_ONLY, Context, Quantity
from cli.cost.table import PriceEntry, PriceTable
from cli.cost.usage import DEFAULTS, Usage

CENT = Decimal("0.01")


@dataclasses.dataclass(frozen=True)
class Line:
    """One billed quantity of a resource: priced (`monthly`) or not (`reason`)."""

    label: str
    quantity: Decimal
    unit: str
    dimension: str
    price: PriceEntry | None
    monthly: Decimal | None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "label": self.label,
            "quantity": _plain(self.quantity),
            "unit": self.unit,
            "dimension": self.dimension,
            "monthly_usd": _money(self.monthly) if self.monthly is not None else None,
        }
        if self.price is not None:
            data["unit_price"] = {"usd": str(self.price.usd), "unit": self.price.unit, **self.price.provenance()}
        if self.reason:
            data["unpriced_reason"] = self.reason
        return data


@dataclasses.dataclass
class ResourceCost:
    """A resource's cost: `status` is priced, partial (some lines unpriced), unpriced, usage or free."""

    urn: str
    type: str
    name: str
    region: str
    status: str
    lines: list[Line]
    usage_notes: list[str]
    reason: str = ""

    @property
    def monthly(self) -> Decimal:
        return sum((line.monthly for line in self.lines if line.monthly is not None), Decimal(0))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "region": self.region,
            "status": self.status,
            "monthly_usd": _money(self.monthly),
            "lines": [line.to_json() for line in self.lines],
            "usage_priced": self.usage_notes,
        }
        if self.reason:
            data["unpriced_reason"] = self.reason
        return data


@dataclasses.dataclass
class Estimate:
    """Every resource of one plan with its cost; `partial` when anything billable could not be priced."""

    stack: str
    region: str
    resources: list[ResourceCost]
    usage: Usage
    tables: dict[str, str]
    """Region -> where its prices came from (a file, the API), with the oldest retrieval date."""
    dimensions: dict[tuple[str, str], Dimension] = dataclasses.field(default_factory=dict)
    """(region, key) -> every price dimension the plan needs, priced or not."""

    @property
    def total(self) -> Decimal:
        return sum((r.monthly for r in self.resources), Decimal(0))

    @property
    def partial(self) -> bool:
        return any(r.status in ("partial", "unpriced") for r in self.resources)

    def of_status(self, *statuses: str) -> list[ResourceCost]:
        return [r for r in self.resources if r.status in statuses]

    def biggest(self, count: int = 3) -> list[ResourceCost]:
        """The priced resources with the largest monthly cost."""
        priced = [r for r in self.resources if r.monthly > 0]
        return sorted(priced, key=lambda r: (-r.monthly, r.urn))[:count]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "currency": "USD",
            "hours_per_month": 730,
            "total_monthly_usd": _money(self.total),
            "partial": self.partial,
            "prices": self.tables,
            "usage": self.usage.to_json(),
            "resources": [r.to_json() for r in self.resources if r.status in ("priced", "partial")],
            "unpriced": [r.to_json() for r in self.of_status("unpriced")],
            "usage_only": [
                {"urn": r.urn, "type": r.type, "usage_priced": r.usage_notes} for r in self.of_status("usage")
            ],
            "free": [{"urn": r.urn, "type": r.type} for r in self.of_status("free")],
        }


TableFor = Callable[[str], PriceTable | str]
"""Region -> its price table, or the reason there is none (every resource there is then unpriced with it)."""


def estimate(plan: dict[str, Any], tables: TableFor, usage: Usage = DEFAULTS) -> Estimate:
    """Prices every custom resource of the plan (providers excluded) with the tables of their regions."""
    context = Context(plan, usage)
    resources: list[ResourceCost] = []
    seen: dict[str, PriceTable | str] = {}
    for resource in context.resources:
        region = context.region_of(resource)
        if region not in seen:
            seen[region] = tables(region)
        resources.append(_price(resource, region, seen[region], context))
    sources = {
        region: table if isinstance(table, str) else f"{table.origin} (oldest price retrieved {table.oldest()})"
        for region, table in sorted(seen.items())
    }
    needed = {(r.region, q.dimension.key): q.dimension for r, qs in context.quantities for q in qs}
    return Estimate(plan.get("stack", ""), plan.get("region", ""), resources, usage, sources, needed)


def _price(resource: dict[str, Any], region: str, table: PriceTable | str, context: Context) -> ResourceCost:
    kind = resource["type"]
    cost = ResourceCost(resource["urn"], kind, resource["name"], region, "free", [], [])
    if kind in FREE:
        return cost
    if kind in USAGE_ONLY:
        cost.status, cost.usage_notes = "usage", [USAGE_ONLY[kind]]
        return cost
    rule = PRICED.get(kind)
    if rule is None:
        cost.status, cost.reason = "unpriced", f"no pricing rule for {kind}"
        return cost
    found = rule(resource, region, context)
    context.quantities.append((cost, found.quantities))
    cost.usage_notes = found.usage_notes
    if found.reason:
        cost.status, cost.reason = "unpriced", found.reason
        return cost
    if not found.quantities:
        cost.status = "usage"
        return cost
    cost.lines = [_line(q, table) for q in found.quantities]
    unpriced = [line for line in cost.lines if line.monthly is None]
    if not unpriced:
        cost.status = "priced"
    elif len(unpriced) == len(cost.lines):
        cost.status, cost.reason = "unpriced", "; ".join(sorted({line.reason for line in unpriced}))
    else:
        cost.status = "partial"
    return cost


def _line(quantity: Quantity, table: PriceTable | str) -> Line:
    dimension: Dimension = quantity.dimension
    if isinstance(table, str):
        return Line(quantity.label, quantity.amount, quantity.unit, dimension.key, None, None, table)
    entry = table.get(dimension.key)
    if entry is None:
        reason = f"no price for {dimension.key} in {table.region} ({table.origin})"
        return Line(quantity.label, quantity.amount, quantity.unit, dimension.key, None, None, reason)
    return Line(quantity.label, quantity.amount, quantity.unit, dimension.key, entry, quantity.amount * entry.usd)


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def dollars(value: Decimal) -> str:
    """$1,234.56"""
    return f"${value.quantize(CENT, rounding=ROUND_HALF_UP):,}"
