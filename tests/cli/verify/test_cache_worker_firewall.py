"""Cache, worker and firewall checks against moto: a healthy setup passes, each weakened property fails by name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cli.verify import background_worker, cache, firewall
from cli.verify.context import Context
from cli.verify.model import Status
from stacks import outputs as out

REGION = "eu-west-1"


@pytest.fixture
def aws(aws_env: None):
    with mock_aws():
        yield


def _context(outputs: dict[str, Any], *, protect: bool = True) -> Context:
    return Context(
        stack="prod" if protect else "dev",
        settings=SimpleNamespace(protect=protect, region=REGION),
        outputs=outputs,
        clients=lambda service: boto3.client(service, region_name=REGION),
        resolver=lambda host: ["127.0.0.1"],
        now=datetime.now(UTC),
    )


def _group(**kw: Any) -> str:
    args = dict(
        ReplicationGroupId="gw-prod-cache",
        ReplicationGroupDescription="cache",
        Engine="valkey",
        CacheNodeType="cache.t4g.micro",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
        AtRestEncryptionEnabled=True,
        TransitEncryptionEnabled=True,
        UserGroupIds=["gw-prod-cache-users"],
        SnapshotRetentionLimit=7,
    )
    args.update(kw)
    args = {key: value for key, value in args.items() if value is not None}
    boto3.client("elasticache", region_name=REGION).create_replication_group(**args)
    return args["ReplicationGroupId"]


def _statuses(checks) -> dict[str, Status]:
    return {check.name: check.status for check in checks}


def test_a_healthy_cache_passes_every_check(aws) -> None:
    checks = cache.verify(_context({out.CACHE_REPLICATION_GROUP: _group()}))
    assert {name for name, status in _statuses(checks).items() if status is not Status.PASS} == set()
    assert set(_statuses(checks)) == {
        "available",
        "encrypted in transit",
        "encrypted at rest",
        "authentication",
        "failover",
        "snapshots",
    }


@pytest.mark.parametrize(
    ("weakened", "check"),
    [
        ({"TransitEncryptionEnabled": False}, "encrypted in transit"),
        ({"AtRestEncryptionEnabled": False}, "encrypted at rest"),
        ({"UserGroupIds": None}, "authentication"),
        ({"NumCacheClusters": 1, "AutomaticFailoverEnabled": False, "MultiAZEnabled": False}, "failover"),
        ({"SnapshotRetentionLimit": 0}, "snapshots"),
    ],
)
def test_a_weakened_cache_fails_the_check_that_names_it(aws, weakened: dict, check: str) -> None:
    checks = cache.verify(_context({out.CACHE_REPLICATION_GROUP: _group(**weakened)}))
    assert _statuses(checks)[check] is Status.FAIL


def test_failover_and_snapshots_only_warn_on_an_unprotected_stack(aws) -> None:
    group = _group(NumCacheClusters=1, AutomaticFailoverEnabled=False, MultiAZEnabled=False, SnapshotRetentionLimit=0)
    statuses = _statuses(cache.verify(_context({out.CACHE_REPLICATION_GROUP: group}, protect=False)))
    assert statuses["failover"] is Status.WARN
    assert statuses["snapshots"] is Status.WARN


def test_a_stack_without_cache_worker_or_firewall_has_no_such_checks(aws) -> None:
    ctx = _context({})
    assert cache.verify(ctx) == []
    assert background_worker.verify(ctx) == []
    assert firewall.verify(ctx) == []


def _worker(**network: Any) -> Context:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="worker", Description="worker", VpcId=vpc)["GroupId"]
    vpc_config = {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="gw-prod")
    ecs.register_task_definition(
        family="worker", containerDefinitions=[{"name": "worker", "image": "i", "memory": 512}]
    )
    ecs.create_service(
        cluster="gw-prod",
        serviceName="gw-prod-worker",
        taskDefinition="worker",
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {**vpc_config, **network}},
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    return _context({out.CLUSTER_NAME: "gw-prod", out.WORKER_SERVICE_NAME: "gw-prod-worker"})


def test_a_private_worker_passes(aws) -> None:
    statuses = _statuses(background_worker.verify(_worker()))
    assert statuses["no public address"] is Status.PASS
    assert statuses["no load balancer"] is Status.PASS


def test_a_worker_without_rollback_fails_that_check() -> None:
    service = {"serviceName": "w", "status": "ACTIVE", "runningCount": 1, "desiredCount": 1}
    kept = {"deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}}
    assert _statuses(background_worker.check_service({**service, **kept}))["rollback on failure"] is Status.PASS
    assert _statuses(background_worker.check_service(service))["rollback on failure"] is Status.FAIL


def test_a_worker_with_a_public_address_fails(aws) -> None:
    statuses = _statuses(background_worker.verify(_worker(assignPublicIp="ENABLED")))
    assert statuses["no public address"] is Status.FAIL


def _load_balancer() -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate("ab")
    ]
    lb = boto3.client("elbv2", region_name=REGION).create_load_balancer(Name="gw-prod-web", Subnets=subnets)
    return lb["LoadBalancers"][0]["LoadBalancerArn"]


def _acl(rules: list[dict]) -> str:
    return boto3.client("wafv2", region_name=REGION).create_web_acl(
        Name="gw-prod-edge-acl",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"},
        Rules=rules,
    )["Summary"]["ARN"]


def _rule(name: str, priority: int, statement: dict, **action: Any) -> dict:
    visibility = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": name}
    return {"Name": name, "Priority": priority, "Statement": statement, "VisibilityConfig": visibility, **action}


RATE = _rule("rate-limit", 0, {"RateBasedStatement": {"Limit": 1000, "AggregateKeyType": "IP"}}, Action={"Block": {}})
MANAGED = [
    _rule(name, i + 1, {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": name}}, OverrideAction={"Count": {}})
    for i, name in enumerate(firewall.MANAGED)
]


def _firewalled(rules: list[dict], associate: bool = True) -> Callable[[], Context]:
    lb = _load_balancer()
    acl = _acl(rules)
    if associate:
        boto3.client("wafv2", region_name=REGION).associate_web_acl(WebACLArn=acl, ResourceArn=lb)
    return _context({out.LOAD_BALANCER_ARN: lb, out.WEB_ACL_ARN: acl})


def test_an_associated_web_acl_with_rate_and_managed_rules_passes(aws) -> None:
    statuses = _statuses(firewall.verify(_firewalled([RATE, *MANAGED])))
    assert statuses == {"associated": Status.PASS, "rate limit": Status.PASS, "managed rules": Status.PASS}


def test_a_web_acl_without_a_rate_rule_fails(aws) -> None:
    statuses = _statuses(firewall.verify(_firewalled(MANAGED)))
    assert statuses["rate limit"] is Status.FAIL


def test_an_unassociated_web_acl_cannot_be_verified(aws) -> None:
    from cli.verify.model import Unverifiable

    with pytest.raises(Unverifiable, match="no web ACL"):
        firewall.verify(_firewalled([RATE, *MANAGED], associate=False))
