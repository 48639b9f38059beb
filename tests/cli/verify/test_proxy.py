"""Proxy checks: TLS and registered targets with moto; target health states moto cannot set with a Stubber."""

from __future__ import annotations

from cli.verify import proxy
from cli.verify.model import Status
from stacks import outputs as out
from tests.cli.verify import stack as healthy
from tests.cli.verify.conftest import find, find_in


def test_a_proxy_without_tls_fails(verify, cloud):
    healthy.create_proxy(cloud, "gw-dev-pool-proxy-plain", require_tls=False)
    report = verify(outputs={out.PROXY_NAME: "gw-dev-pool-proxy-plain"})
    check = find(report, "proxy", "TLS required")
    assert (check.status, check.observed) == (Status.FAIL, "TLS not required (plain connections accepted)")
    assert find(report, "proxy", "targets available").status is Status.PASS


def test_a_proxy_without_targets_fails(verify, cloud):
    healthy.create_proxy(cloud, "gw-dev-pool-proxy-empty", target=None)
    check = find(verify(outputs={out.PROXY_NAME: "gw-dev-pool-proxy-empty"}), "proxy", "targets available")
    assert (check.status, check.observed) == (Status.FAIL, "no database registered behind the proxy")


def test_a_proxy_in_front_of_another_database_fails(verify, cloud):
    healthy.create_database("gw-dev-db-other")
    healthy.create_proxy(cloud, "gw-dev-pool-proxy-other", target="gw-dev-db-other")
    check = find(verify(outputs={out.PROXY_NAME: "gw-dev-pool-proxy-other"}), "proxy", "targets available")
    assert check.status is Status.FAIL
    assert check.observed == "gw-dev-db-other AVAILABLE; gw-dev-db is not a target"


def test_a_missing_proxy_fails(verify):
    check = find(verify(outputs={out.PROXY_NAME: "gw-dev-pool-proxy-gone"}), "proxy", "exists")
    assert check.observed == "RDS has no proxy gw-dev-pool-proxy-gone"


def test_the_proxy_name_is_derived_from_its_endpoint(verify):
    report = verify(outputs={out.PROXY_NAME: None})
    assert find(report, "proxy", "available").resource == healthy.PROXY


def _proxy_answer(stubber, *, state="AVAILABLE", reason=None, description=None):
    stubber.add_response(
        "describe_db_proxies",
        {"DBProxies": [{"DBProxyName": healthy.PROXY, "Status": "available", "RequireTLS": True}]},
        {"DBProxyName": healthy.PROXY},
    )
    health = {"State": state}
    if reason:
        health["Reason"] = reason
    if description:
        health["Description"] = description
    stubber.add_response(
        "describe_db_proxy_targets",
        {"Targets": [{"RdsResourceId": healthy.DB_ID, "Type": "RDS_INSTANCE", "TargetHealth": health}]},
        {"DBProxyName": healthy.PROXY},
    )


def test_an_unavailable_target_fails_with_its_reason(stubbed):
    """moto always reports registered proxy targets AVAILABLE, so the unavailable state is stubbed."""
    ctx = stubbed(
        {out.PROXY_NAME: healthy.PROXY, out.DATABASE_INSTANCE: healthy.DB_ID},
        rds=lambda s: _proxy_answer(
            s, state="UNAVAILABLE", reason="AUTH_FAILURE", description="Proxy does not have any registered credentials"
        ),
    )
    check = find_in(proxy.verify(ctx), "targets available")
    assert check.status is Status.FAIL
    assert check.observed == "gw-dev-db UNAVAILABLE (Proxy does not have any registered credentials)"


def test_a_registering_target_only_warns(stubbed):
    """moto flips a new target from REGISTERING to AVAILABLE on the first read, so the state is stubbed."""
    ctx = stubbed(
        {out.PROXY_NAME: healthy.PROXY, out.DATABASE_INSTANCE: healthy.DB_ID},
        rds=lambda s: _proxy_answer(s, state="REGISTERING"),
    )
    check = find_in(proxy.verify(ctx), "targets available")
    assert (check.status, check.observed) == (Status.WARN, "gw-dev-db REGISTERING")
