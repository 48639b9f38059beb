"""Controls 50-52 and 55 pass on programs with the cache and the firewall, and catch each weakened argument."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi_aws as aws
import pytest

from cli.plan.document import plan_document
from cli.plan.policy.evaluate import evaluate
from cli.plan.policy.loader import load_controls
from cli.plan.recorder import run
from infra.cache import Cache, CacheArgs
from infra.firewall import Firewall, FirewallArgs
from stacks.settings import PROJECT_DIR
from tests.mocks import settings_for


def _plan(declare: Callable[[], None], stack: str = "prod") -> dict[str, Any]:
    def program(_: Any) -> dict:
        declare()
        return {}

    return plan_document(run(settings_for(stack), program), PROJECT_DIR)


def _findings(plan: dict[str, Any], control_id: str) -> list:
    controls = [c for c in load_controls() if c.id == control_id]
    return evaluate(plan, controls).results[0].findings


CACHE_BASE = {"region": "eu-west-1", "account_id": "123456789012"}


def _cache(**kw: Any) -> None:
    Cache(
        "gw-prod-cache",
        CacheArgs(**CACHE_BASE, subnet_ids=["a", "b"], security_group_id="sg", **kw),
    )


def _raw_group(**kw: Any) -> None:
    base = dict(
        replication_group_id="raw",
        description="raw",
        engine="valkey",
        node_type="cache.t4g.micro",
        num_cache_clusters=2,
        automatic_failover_enabled=True,
        multi_az_enabled=True,
        at_rest_encryption_enabled=True,
        transit_encryption_enabled=True,
        user_group_ids=["users"],
        snapshot_retention_limit=7,
    )
    aws.elasticache.ReplicationGroup("raw", **{**base, **kw})


@pytest.mark.parametrize("control_id", ["50", "51", "52"])
def test_cache_controls_pass_on_the_component_with_a_replica(control_id: str) -> None:
    assert _findings(_plan(lambda: _cache(replicas=1)), control_id) == []


@pytest.mark.parametrize(
    ("control_id", "weakened", "message"),
    [
        ("50", {"transit_encryption_enabled": False}, "transitEncryptionEnabled"),
        ("50", {"transit_encryption_mode": "preferred"}, "preferred"),
        ("50", {"at_rest_encryption_enabled": False}, "atRestEncryptionEnabled"),
        ("51", {"user_group_ids": []}, "no user group"),
        ("52", {"multi_az_enabled": False}, "multi-AZ"),
        ("52", {"num_cache_clusters": 1, "automatic_failover_enabled": False, "multi_az_enabled": False}, "replica"),
        ("52", {"snapshot_retention_limit": 0}, "snapshot"),
    ],
)
def test_cache_controls_catch_a_weakened_group(control_id: str, weakened: dict, message: str) -> None:
    assert _findings(_plan(_raw_group), control_id) == []
    findings = _findings(_plan(lambda: _raw_group(**weakened)), control_id)
    assert any(message in f.message for f in findings), findings
    assert all(f.severity == "error" for f in findings)


def test_cache_without_replica_is_only_a_warning_outside_prod() -> None:
    findings = _findings(_plan(lambda: _cache(replicas=0), stack="dev"), "52")
    assert findings
    assert {f.severity for f in findings} == {"warning"}


def _load_balancer(internal: bool = False) -> aws.lb.LoadBalancer:
    return aws.lb.LoadBalancer("lb", load_balancer_type="application", internal=internal, subnets=["a", "b"])


def test_firewall_control_passes_with_a_rate_rule_on_the_load_balancer() -> None:
    def declare() -> None:
        lb = _load_balancer()
        Firewall("edge", FirewallArgs(load_balancer_arn=lb.arn, region="eu-west-1"))

    assert _findings(_plan(declare), "55") == []


def test_firewall_control_catches_an_unprotected_internet_facing_load_balancer() -> None:
    findings = _findings(_plan(lambda: _load_balancer()), "55")
    assert [f.severity for f in findings] == ["error"]
    assert "not associated" in findings[0].message
    assert _findings(_plan(lambda: _load_balancer(internal=True)), "55") == []


def test_firewall_control_catches_a_web_acl_without_a_blocking_rate_rule() -> None:
    def declare() -> None:
        lb = _load_balancer()
        acl = aws.wafv2.WebAcl(
            "acl",
            scope="REGIONAL",
            default_action={"allow": {}},
            rules=[],
            visibility_config={
                "cloudwatch_metrics_enabled": True,
                "metric_name": "m",
                "sampled_requests_enabled": True,
            },
        )
        aws.wafv2.WebAclAssociation("link", resource_arn=lb.arn, web_acl_arn=acl.arn)

    findings = _findings(_plan(declare), "55")
    assert any("no rate-based rule" in f.message for f in findings), findings
