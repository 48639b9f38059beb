"""DNS checks with moto records and an injected resolver (no network)."""

from __future__ import annotations

import dataclasses

import boto3

from cli.verify.model import Status
from tests.cli.verify import stack as healthy
from tests.cli.verify.conftest import find


def _change(cloud, changes):
    boto3.client("route53", region_name=healthy.REGION).change_resource_record_sets(
        HostedZoneId=cloud.zone, ChangeBatch={"Changes": changes}
    )


def test_a_missing_record_fails(verify, cloud):
    _change(cloud, [healthy.alias_change(cloud, "DELETE", kind) for kind in ("A", "AAAA")])
    report = verify()
    exists = find(report, "dns", "record exists")
    assert (exists.status, exists.observed) == (Status.FAIL, f"no A or AAAA record in zone {cloud.zone}")
    assert find(report, "dns", "points at load balancer").observed == "no record to follow"


def test_a_missing_aaaa_record_fails(verify, cloud):
    _change(cloud, [healthy.alias_change(cloud, "DELETE", "AAAA")])
    check = find(verify(), "dns", "record exists")
    assert (check.status, check.observed) == (Status.FAIL, f"no AAAA record in zone {cloud.zone} (only A)")


def test_a_record_with_a_fixed_address_instead_of_the_alias_fails(verify, cloud):
    fixed = {"Name": healthy.HOST, "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "198.51.100.7"}]}
    _change(cloud, [healthy.alias_change(cloud, "DELETE", "A"), {"Action": "CREATE", "ResourceRecordSet": fixed}])
    check = find(verify(), "dns", "points at load balancer")
    assert check.status is Status.FAIL
    assert check.observed == "A 198.51.100.7 (not an alias)"


def test_a_name_that_does_not_resolve_fails(verify):
    check = find(verify(resolver=healthy.resolver({})), "dns", "resolves")
    assert check.status is Status.FAIL
    assert check.observed.startswith("does not resolve (")
    assert "Name or service not known" in check.observed


def test_a_domain_without_a_public_zone_fails(verify, target):
    settings = dataclasses.replace(target.settings, domain="example.org")
    report = verify(derived_only=True, settings=settings, outputs={"service_host": "api.dev.example.org"})
    check = find(report, "dns", "zone")
    assert check.observed == "no public hosted zone named example.org."
