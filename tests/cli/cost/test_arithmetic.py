"""Each resource kind's monthly quantities times its prices: hours, GB, units, Multi-AZ, replicas, usage."""

from __future__ import annotations

from decimal import Decimal

from cli.cost.estimate import estimate
from cli.cost.kinds import instance_vcpus
from cli.cost.usage import Usage
from tests.cli.cost.plans import nat, plan, resource, table

PRICES = table(
    {
        "nat-gateway-hours": "0.048",
        "nat-gateway-gb": "0.048",
        "public-ipv4-hours": "0.005",
        "rds-postgresql/db.m7g.large": "0.2",
        "rds-storage/gp3": "0.1",
        "rds-proxy-vcpu-hours": "0.015",
        "elasticache-valkey/cache.m7g.large": "0.15",
        "fargate-x86-vcpu-hours": "0.04",
        "fargate-x86-gb-hours": "0.004",
        "alb-hours": "0.025",
        "alb-lcu-hours": "0.008",
        "waf-web-acl-months": "5",
        "waf-rule-months": "1",
        "cloudwatch-alarm-months": "0.10",
        "kms-key-months": "1",
    }
)


def _cost(*resources, usage=None, prices=PRICES):
    result = estimate(plan(*resources), lambda region: prices, usage or Usage({}))
    return {r.name: r for r in result.resources}, result


def _db(multi_az: bool, **extra):
    inputs = {
        "engine": "postgres",
        "instanceClass": "db.m7g.large",
        "allocatedStorage": 100,
        "storageType": "gp3",
        "multiAz": multi_az,
        **extra,
    }
    return resource("aws:rds/instance:Instance", "db", inputs)


def test_nat_gateway_is_730_hours_and_data_processed_only_from_the_usage_file():
    costs, result = _cost(nat("a"), nat("b"))
    assert costs["a"].monthly == Decimal("35.040")
    assert result.total == Decimal("70.080")
    assert "nat_gateway_gb" in costs["a"].usage_notes[0]
    costs, _ = _cost(nat("a"), nat("b"), usage=Usage({"nat_gateway_gb": Decimal(1000)}))
    # 1000 GB over two gateways: 500 GB each at $0.048.
    assert costs["a"].monthly == Decimal("35.040") + Decimal("24.000")


def test_multi_az_doubles_instance_hours_and_storage():
    single, _ = _cost(_db(False))
    multi, _ = _cost(_db(True))
    assert single["db"].monthly == Decimal("146.0") + Decimal("10.0")
    assert multi["db"].monthly == 2 * single["db"].monthly
    assert [line.quantity for line in multi["db"].lines] == [Decimal(1460), Decimal(200)]
    assert "primary and standby" in multi["db"].lines[0].label


def test_cache_nodes_are_the_primary_and_each_replica():
    group = resource(
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "cache",
        {"engine": "valkey", "nodeType": "cache.m7g.large", "numCacheClusters": 3},
    )
    costs, _ = _cost(group)
    assert costs["cache"].lines[0].quantity == 3 * 730
    assert costs["cache"].monthly == Decimal("328.50")


def test_read_replica_is_an_instance_of_its_own():
    replica = _db(False, replicateSourceDb="db")
    replica["urn"] += "-replica"
    replica["name"] = "db-replica"
    costs, result = _cost(_db(False), replica)
    assert costs["db-replica"].monthly == costs["db"].monthly
    assert result.total == 2 * costs["db"].monthly


def test_fargate_service_counts_desired_tasks_with_the_task_definitions_size():
    task = resource(
        "aws:ecs/taskDefinition:TaskDefinition",
        "task",
        {
            "cpu": "1024",
            "memory": "2048",
            "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        },
    )
    service = resource(
        "aws:ecs/service:Service",
        "svc",
        {"launchType": "FARGATE", "desiredCount": 3},
        property_dependencies={"taskDefinition": [task["urn"]]},
    )
    costs, _ = _cost(task, service)
    vcpu, memory = costs["svc"].lines
    assert vcpu.quantity == 3 * 1 * 730
    assert memory.quantity == 3 * 2 * 730
    assert costs["svc"].monthly == Decimal("87.60") + Decimal("17.52")
    assert costs["task"].status == "free"


def test_proxy_bills_the_vcpus_of_its_target_instance():
    db = _db(True)
    proxy = resource("aws:rds/proxy:Proxy", "proxy")
    target = resource(
        "aws:rds/proxyTarget:ProxyTarget",
        "target",
        dependencies=[proxy["urn"]],
        property_dependencies={"dbInstanceIdentifier": [db["urn"]], "dbProxyName": [proxy["urn"]]},
    )
    costs, _ = _cost(db, proxy, target)
    assert costs["proxy"].lines[0].quantity == 2 * 730
    assert costs["proxy"].monthly == Decimal("21.900")


def test_instance_vcpus_by_class_and_unknown_classes():
    assert instance_vcpus("db.t4g.small") == 2
    assert instance_vcpus("db.m7g.large") == 2
    assert instance_vcpus("db.r6g.4xlarge") == 16
    assert instance_vcpus("db.x2g.large") is None
    assert instance_vcpus("db.m7g.small") is None


def test_internet_facing_load_balancer_pays_its_hours_and_a_public_address_per_zone():
    lb = resource(
        "aws:lb/loadBalancer:LoadBalancer", "alb", {"loadBalancerType": "application", "subnets": ["a", "b", "c"]}
    )
    costs, _ = _cost(lb, usage=Usage({"load_balancer_lcu": Decimal(2)}))
    hours, addresses, lcu = costs["alb"].lines
    assert addresses.quantity == 3 * 730
    assert addresses.monthly == Decimal("10.950")
    assert hours.monthly == Decimal("18.250")
    assert lcu.quantity == 2 * 730
    assert lcu.monthly == Decimal("11.680")


def test_web_acl_pays_per_rule_and_alarms_per_metric():
    acl = resource("aws:wafv2/webAcl:WebAcl", "acl", {"rules": [{"name": str(i)} for i in range(9)]})
    queries = [
        {"id": "a", "metric": {"period": 60}},
        {"id": "b", "metric": {"period": 60}},
        {"id": "e", "expression": "a/b"},
    ]
    math = resource("aws:cloudwatch/metricAlarm:MetricAlarm", "math", {"metricQueries": queries})
    plain = resource("aws:cloudwatch/metricAlarm:MetricAlarm", "plain", {"period": 60})
    fast = resource("aws:cloudwatch/metricAlarm:MetricAlarm", "fast", {"period": 10})
    costs, _ = _cost(acl, math, plain, fast)
    assert costs["acl"].monthly == Decimal(14)
    assert costs["math"].monthly == Decimal("0.20")
    assert costs["plain"].monthly == Decimal("0.10")
    assert costs["fast"].status == "unpriced"
    assert "high-resolution" in costs["fast"].reason


def test_missing_prices_leave_the_resource_unpriced_and_the_total_partial():
    key = resource("aws:kms/key:Key", "key")
    costs, result = _cost(nat("a"), key, prices=table({"nat-gateway-hours": "0.048"}))
    assert costs["key"].status == "unpriced"
    assert "no price for kms-key-months" in costs["key"].reason
    assert result.partial
    assert result.total == Decimal("35.040")


def test_unknown_types_are_unpriced_usage_types_listed_and_free_types_free():
    costs, result = _cost(
        resource("aws:sqs/queue:Queue", "queue"),
        resource("aws:s3/bucket:Bucket", "bucket"),
        resource("aws:iam/role:Role", "role"),
    )
    assert costs["queue"].status == "unpriced"
    assert "no pricing rule" in costs["queue"].reason
    assert costs["bucket"].status == "usage"
    assert costs["bucket"].usage_notes
    assert costs["role"].status == "free"
    document = result.to_json()
    assert [r["name"] for r in document["unpriced"]] == ["queue"]
    assert [r["urn"].rsplit("::", 1)[1] for r in document["usage_only"]] == ["bucket"]


def test_a_resource_in_another_region_is_priced_with_that_regions_table():
    vault_key = resource("aws:kms/key:Key", "copy-key", {"region": "eu-central-1"})
    tables = {"eu-west-1": table({"kms-key-months": "1"}), "eu-central-1": "no kept prices for eu-central-1"}
    result = estimate(plan(resource("aws:kms/key:Key", "key"), vault_key), tables.__getitem__)
    costs = {r.name: r for r in result.resources}
    assert costs["key"].monthly == 1
    assert costs["copy-key"].region == "eu-central-1"
    assert costs["copy-key"].status == "unpriced"
    assert "eu-central-1" in costs["copy-key"].reason
    assert result.partial


def test_json_carries_each_unit_price_with_its_sku_and_effective_date():
    _, result = _cost(nat("a"))
    line = result.to_json()["resources"][0]["lines"][0]
    assert line["unit_price"]["sku"].startswith("TEST")
    assert line["unit_price"]["effective_date"] == "2026-11-01"
    assert line["monthly_usd"] == "35.04"
