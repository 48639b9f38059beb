"""Small plan documents and price tables for the cost tests, in the shape `infra plan --json` prints."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from cli.cost.table import PriceEntry, PriceTable

TODAY = datetime.date(2026, 12, 7)
PROVIDER = "urn:pulumi:t::groundwork::pulumi:providers:aws::default"


def resource(kind: str, name: str, inputs: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:t::groundwork::{kind}::{name}",
        "type": kind,
        "name": name,
        "custom": True,
        "provider": PROVIDER,
        "dependencies": [],
        "property_dependencies": {},
        "options": {"protect": False},
        "inputs": inputs or {},
        **extra,
    }


def plan(*resources: dict[str, Any], stack: str = "dev", region: str = "eu-west-1", budget: int | None = None):
    provider = resource("pulumi:providers:aws", "default", {"region": region})
    provider["urn"] = PROVIDER
    return {
        "format": "groundwork-plan/1",
        "stack": stack,
        "region": region,
        "cost_budget_monthly_usd": budget,
        "resources": [provider, *resources],
    }


def table(prices: dict[str, str], region: str = "eu-west-1") -> PriceTable:
    """A table of the given dimension keys and prices, each with a made-up SKU (tests only)."""
    entries = {
        key: PriceEntry(
            key,
            Decimal(usd),
            "Hrs",
            TODAY.isoformat(),
            sku=f"TEST{i}",
            offer_term="JRTCKXETXF",
            effective_date="2026-11-01",
        )
        for i, (key, usd) in enumerate(prices.items())
    }
    return PriceTable(region, entries, "test table")


def nat(name: str = "nat-0") -> dict[str, Any]:
    return resource("aws:ec2/natGateway:NatGateway", name, {"allocationId": "eipalloc-1"})
