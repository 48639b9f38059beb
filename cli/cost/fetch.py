"""Prices from the AWS Price List Query API (GetProducts): one on-demand price per dimension, with its SKU and term."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from cli.cost.dimensions import Dimension
from cli.cost.table import PriceEntry

PRICING_REGION = "us-east-1"
"""The Price List Query API's endpoint region; it answers for every region."""
_KEPT_ATTRIBUTES = ("vcpu", "memory", "usagetype", "instanceType", "deploymentOption", "databaseEngine", "cacheEngine")


def pricing_client() -> Any:
    """A boto3 client of the Price List Query API."""
    import boto3

    return boto3.client("pricing", region_name=PRICING_REGION)


def have_credentials() -> bool:
    """Whether boto3 finds AWS credentials (environment, profile, instance role), without calling AWS."""
    import boto3

    return boto3.Session().get_credentials() is not None


def fetch_prices(
    client: Any, region: str, dimensions: Iterable[Dimension], today: datetime.date
) -> tuple[dict[str, PriceEntry], dict[str, str]]:
    """The on-demand price of each dimension in `region`, and why any could not be found (by key)."""
    found: dict[str, PriceEntry] = {}
    missed: dict[str, str] = {}
    for dimension in sorted(dimensions, key=lambda x: x.key):
        result = fetch_one(client, region, dimension, today)
        if isinstance(result, str):
            missed[dimension.key] = result
        else:
            found[dimension.key] = result
    return found, missed


def fetch_one(client: Any, region: str, dimension: Dimension, today: datetime.date) -> PriceEntry | str:
    """One dimension's price, or the reason there is none: no product, several products, or no single USD price."""
    answer = client.get_products(
        ServiceCode=dimension.service,
        Filters=dimension.api_filters(region),
        FormatVersion="aws_v1",
        MaxResults=10,
    )
    products = [json.loads(item) if isinstance(item, str) else item for item in answer.get("PriceList", [])]
    if not products:
        return f"no {dimension.service} product matched {dict(dimension.filters)} in {region}"
    if len(products) > 1 or answer.get("NextToken"):
        skus = ", ".join(sorted(str(p.get("product", {}).get("sku", "?")) for p in products))
        return f"{len(products)} products matched {dict(dimension.filters)} in {region} ({skus}); refusing to guess"
    return _entry(dimension, products[0], today)


def _entry(dimension: Dimension, product: dict[str, Any], today: datetime.date) -> PriceEntry | str:
    sku = product.get("product", {}).get("sku", "")
    terms = list((product.get("terms", {}).get("OnDemand") or {}).values())
    if len(terms) != 1:
        return f"SKU {sku} has {len(terms)} on-demand terms"
    term = terms[0]
    # Tiered prices (first GB, next TB, ...): the first tier, the one a small stack pays.
    tiers = sorted(
        (term.get("priceDimensions") or {}).values(), key=lambda t: _number(t.get("beginRange", "0")) or Decimal(0)
    )
    if not tiers:
        return f"SKU {sku} has no price dimension"
    first = tiers[0]
    try:
        usd = Decimal(first.get("pricePerUnit", {}).get("USD", ""))
    except InvalidOperation:
        return f"SKU {sku} has no USD price"
    attributes = product.get("product", {}).get("attributes", {})
    return PriceEntry(
        key=dimension.key,
        usd=usd,
        unit=first.get("unit", dimension.unit),
        retrieved=today.isoformat(),
        sku=sku,
        offer_term=term.get("offerTermCode", ""),
        effective_date=str(term.get("effectiveDate", ""))[:10],
        description=first.get("description", ""),
        attributes={k: str(attributes[k]) for k in _KEPT_ATTRIBUTES if k in attributes},
    )


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None
