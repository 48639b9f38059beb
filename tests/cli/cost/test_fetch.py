"""Prices from GetProducts (botocore's Stubber, answers shaped like the Price List API's), one per service used."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from cli.cost import dimensions as d
from cli.cost.fetch import fetch_one
from cli.cost.sources import kept_path, priced_with_api
from cli.cost.table import load_table
from tests.cli.cost.plans import TODAY, nat, plan, resource

REGION = "eu-west-1"


def _product(sku: str, service: str, usd: str, unit: str, attributes: dict[str, str], tiers: int = 1) -> str:
    """One PriceList item as GetProducts returns it: a JSON string with the product and its on-demand term."""
    term = f"{sku}.JRTCKXETXF"
    dimensions = {
        f"{term}.6YS6EN2CT{i}": {
            "rateCode": f"{term}.6YS6EN2CT{i}",
            "description": f"${usd} per {unit} (tier {i})",
            "beginRange": str(i * 10240),
            "endRange": "Inf" if i == tiers - 1 else str((i + 1) * 10240),
            "unit": unit,
            "pricePerUnit": {"USD": usd if i == 0 else "0.0000001"},
            "appliesTo": [],
        }
        for i in reversed(range(tiers))
    }
    return json.dumps(
        {
            "product": {
                "productFamily": "x",
                "attributes": {"servicecode": service, "regionCode": REGION, **attributes},
                "sku": sku,
            },
            "serviceCode": service,
            "terms": {
                "OnDemand": {
                    term: {
                        "priceDimensions": dimensions,
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                }
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-20T00:00:00Z",
        }
    )


CASES = [
    (d.nat_gateway_hours(REGION), "AmazonEC2", "0.048", "Hrs", {"usagetype": "EU-NatGateway-Hours"}),
    (d.public_ipv4(REGION), "AmazonVPC", "0.005", "Hrs", {"usagetype": "EU-PublicIPv4:InUseAddress"}),
    (d.rds_instance(REGION, "db.m7g.large"), "AmazonRDS", "0.2", "Hrs", {"vcpu": "2", "instanceType": "db.m7g.large"}),
    (d.load_balancer_hours(REGION), "AWSELB", "0.0252", "Hrs", {"usagetype": "EU-LoadBalancerUsage"}),
    (d.fargate_vcpu(REGION, arm=False), "AmazonECS", "0.04048", "hours", {"usagetype": "EU-Fargate-vCPU-Hours:perCPU"}),
    (d.cache_node(REGION, "cache.m7g.large", "valkey"), "AmazonElastiCache", "0.14", "Hrs", {"cacheEngine": "Valkey"}),
    (d.kms_key(REGION), "awskms", "1", "Keys", {"usagetype": "EU-KMS-Keys"}),
    (d.waf_rule(REGION), "awswaf", "1", "Rule", {"usagetype": "EU-RuleV2"}),
    (d.alarm(REGION), "AmazonCloudWatch", "0.1", "Alarms", {"usagetype": "EU-CW:AlarmMonitorUsage"}),
    (d.secret(REGION), "AWSSecretsManager", "0.4", "Secrets", {"usagetype": "EU-AWSSecretsManager-Secrets"}),
    (d.hosted_zone(REGION), "AmazonRoute53", "0.5", "HostedZone", {"usagetype": "HostedZone"}),
]


@pytest.fixture
def client():
    pricing = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(pricing) as stubber:
        yield pricing, stubber
        stubber.assert_no_pending_responses()


def _expect(stubber, dimension, items, **extra):
    params = {
        "ServiceCode": dimension.service,
        "Filters": dimension.api_filters(REGION),
        "FormatVersion": "aws_v1",
        "MaxResults": 10,
    }
    stubber.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": items, **extra}, params)


@pytest.mark.parametrize(
    ("dimension", "service", "usd", "unit", "attributes"), CASES, ids=lambda c: getattr(c, "key", None)
)
def test_each_service_answer_becomes_a_price_with_its_sku_term_and_date(
    client, dimension, service, usd, unit, attributes
):
    pricing, stubber = client
    _expect(stubber, dimension, [_product("SKU123", service, usd, unit, attributes)])
    entry = fetch_one(pricing, REGION, dimension, TODAY)
    assert str(entry.usd) == usd
    assert entry.unit == unit
    assert (entry.sku, entry.offer_term, entry.effective_date) == ("SKU123", "JRTCKXETXF", "2026-11-01")
    assert entry.retrieved == TODAY.isoformat()
    assert dimension.api_filters(REGION)[0] == {"Type": "TERM_MATCH", "Field": "regionCode", "Value": REGION}


def test_tiered_prices_take_the_first_tier(client):
    pricing, stubber = client
    dimension = d.nat_gateway_bytes(REGION)
    _expect(stubber, dimension, [_product("SKU9", "AmazonEC2", "0.048", "GB", {}, tiers=3)])
    assert str(fetch_one(pricing, REGION, dimension, TODAY).usd) == "0.048"


def test_no_product_or_several_products_are_reasons_not_prices(client):
    pricing, stubber = client
    dimension = d.rds_proxy(REGION)
    _expect(stubber, dimension, [])
    assert "no AmazonRDS product matched" in fetch_one(pricing, REGION, dimension, TODAY)
    two = [_product("A", "AmazonRDS", "1", "Hrs", {}), _product("B", "AmazonRDS", "2", "Hrs", {})]
    _expect(stubber, dimension, two)
    assert "2 products matched" in fetch_one(pricing, REGION, dimension, TODAY)
    _expect(stubber, dimension, two[:1], NextToken="more")
    assert "refusing to guess" in fetch_one(pricing, REGION, dimension, TODAY)


def test_refresh_writes_the_local_and_the_kept_cache_and_keeps_what_the_api_did_not_find(client, tmp_path):
    pricing, stubber = client
    kept_dir = tmp_path / "kept"
    the_plan = plan(nat(), resource("aws:kms/key:Key", "key"))
    _expect(stubber, d.kms_key(REGION), [])
    _expect(stubber, d.nat_gateway_hours(REGION), [_product("NATSKU", "AmazonEC2", "0.048", "Hrs", {})])
    result, report = priced_with_api(the_plan, tmp_path, pricing, TODAY, refresh=True, kept_dir=kept_dir)
    assert report.fetched == {REGION: 1}
    assert "kms-key-months" in report.missed[REGION]
    assert float(result.total) == pytest.approx(35.04)
    assert result.partial
    kept = load_table(kept_path(REGION, kept_dir), REGION, today=TODAY, max_age_days=1)
    assert kept.entries["nat-gateway-hours"].sku == "NATSKU"
    assert (tmp_path / ".infra" / "prices" / f"{REGION}.json").is_file()
    # A second run with a fresh local cache asks the API for nothing it already has.
    _expect(stubber, d.kms_key(REGION), [])
    priced_with_api(the_plan, tmp_path, pricing, TODAY, kept_dir=kept_dir)
