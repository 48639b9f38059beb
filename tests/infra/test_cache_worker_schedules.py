"""The cache, the worker and the scheduled jobs under the strict mock: encryption, exposure, sign-in and scaling."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.cache import Cache, CacheArgs, replication_group_id
from infra.dashboards import Monitoring, MonitoringArgs
from infra.firewall import Firewall, FirewallArgs
from infra.limits import expression_problem
from infra.network import Network, NetworkArgs
from infra.schedules import ScheduledJob, Schedules, SchedulesArgs
from infra.worker import Worker, WorkerArgs
from tests.mocks import run, settings_for

SUBNETS = ["subnet-a", "subnet-b"]


def _record(declare) -> Any:
    def program(_: Any) -> dict:
        declare()
        return {}

    return run(settings_for("dev"), program)


CACHE_BASE = {"region": "eu-west-1", "account_id": "123456789012"}


def _cache(**kw: Any) -> Any:
    return Cache(
        "gw-dev-cache",
        CacheArgs(
            region="eu-west-1", account_id="123456789012", subnet_ids=SUBNETS, security_group_id="sg-cache", **kw
        ),
    )


def test_cache_requires_tls_encryption_at_rest_and_iam_users_only() -> None:
    rec = _record(_cache)
    group = rec.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert group["engine"] == "valkey", group.urn
    assert group["atRestEncryptionEnabled"] is True, group.urn
    assert group["transitEncryptionEnabled"] is True, group.urn
    assert group["transitEncryptionMode"] == "required", group.urn
    assert group["kmsKeyId"] == rec.one("aws:kms/key:Key").state["arn"], group.urn
    assert "authToken" not in group.inputs, group.urn
    assert group["securityGroupIds"] == ["sg-cache"], group.urn
    users = {u["userName"]: u for u in (r.inputs for r in rec.of_type("aws:elasticache/user:User"))}
    assert users["default"]["accessString"].startswith("off"), "the default user is switched off"
    app = users["gw-dev-cache-app"]
    assert app["authenticationMode"]["type"] == "iam"
    assert app["userId"] == app["userName"]
    assert "@dangerous" in app["accessString"]
    assert "-@dangerous" in app["accessString"]
    user_group = rec.one("aws:elasticache/userGroup:UserGroup")
    assert group["userGroupIds"] == [user_group["userGroupId"]], group.urn


def test_cache_with_replicas_fails_over_across_zones_and_keeps_snapshots() -> None:
    group = _record(lambda: _cache(replicas=2, snapshot_retention_days=14)).one(
        "aws:elasticache/replicationGroup:ReplicationGroup"
    )
    assert group["numCacheClusters"] == 3, group.urn
    assert group["automaticFailoverEnabled"] is True, group.urn
    assert group["multiAzEnabled"] is True, group.urn
    assert group["snapshotRetentionLimit"] == 14, group.urn
    single = _record(lambda: _cache(replicas=0)).one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert single["automaticFailoverEnabled"] is False, single.urn
    assert single["multiAzEnabled"] is False, single.urn


def test_cache_evicts_like_a_cache() -> None:
    params = _record(_cache).one("aws:elasticache/parameterGroup:ParameterGroup")
    assert params["family"] == "valkey8", params.urn
    assert params["parameters"] == [
        {"name": "maxmemory-policy", "value": "allkeys-lru"},
        {"name": "reserved-memory-percent", "value": "25"},
    ], params.urn


def test_cache_alarms_cover_every_node_and_lag_only_on_replicas() -> None:
    cache = None

    def declare() -> dict:
        nonlocal cache
        cache = _cache(replicas=1)
        return {}

    _record(declare)
    suffixes = {spec.suffix for spec in cache.alarm_specs}
    for node in ("001", "002"):
        for what in ("cpu", "memory", "evictions", "connections"):
            assert f"cache-{node}-{what}" in suffixes
    assert "cache-002-replication-lag" in suffixes
    assert "cache-001-replication-lag" not in suffixes


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"engine_version": "6.2"}, "engine_version"),
        ({"node_type": "m5.large"}, "node_type"),
        ({"replicas": 6}, "replicas"),
        ({"eviction_policy": "noeviction"}, "eviction_policy"),
        ({"snapshot_retention_days": 36}, "snapshot_retention_days"),
        ({"log_retention_days": 8}, "log_retention_days"),
    ],
)
def test_cache_refuses_bad_arguments_naming_the_field(kw: dict, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}="):
        _record(lambda: _cache(**kw))


def test_replication_group_id_fits_elasticache_rules() -> None:
    assert replication_group_id("gw-prod-cache") == "gw-prod-cache"
    long = replication_group_id("gw-" + "x" * 60 + "-cache")
    assert len(long) <= 32
    assert not long.endswith("-")
    with pytest.raises(ValueError, match="name"):
        replication_group_id("9-cache")


def test_monitoring_raises_the_alarms_other_components_ask_for_and_shows_their_panels() -> None:
    def declare() -> dict:
        cache = _cache()
        Monitoring(
            "gw-dev-mon",
            MonitoringArgs(
                region="eu-west-1",
                account_id="123456789012",
                load_balancer="app/lb/1",
                target_groups=["targetgroup/tg/1"],
                cluster_name="cluster",
                service_name="service",
                db_instance="db",
                proxy_name="proxy",
                db_storage_gb=20,
                extra_alarms=cache.alarm_specs,
                extra_panels=cache.panels,
            ),
        )
        return {}

    rec = _record(declare)
    alarm = next(a for a in rec.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if a.name.endswith("001-cpu"))
    assert alarm["namespace"] == "AWS/ElastiCache"
    assert alarm["dimensions"] == {"CacheClusterId": "gw-dev-cache-001"}
    assert alarm["alarmActions"] == [rec.one("aws:sns/topic:Topic").state["arn"]], alarm.urn
    body = json.loads(rec.one("aws:cloudwatch/dashboard:Dashboard")["dashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert "Cache hits and misses" in titles


def test_network_admits_only_the_service_and_the_worker_to_the_cache() -> None:
    rec = _record(lambda: Network("n", NetworkArgs(zone_count=2, worker=True, cache=True)))
    cache_sg = rec.by_name("n-cache-sg")
    ingress = [
        r
        for r in rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r["securityGroupId"] == cache_sg.id
    ]
    sources = {r["referencedSecurityGroupId"] for r in ingress}
    service_sg = rec.by_name("n-service-sg").id
    worker_sg = rec.by_name("n-worker-sg").id
    assert sources == {service_sg, worker_sg}, [r.urn for r in ingress]
    assert all(r.get("cidrIpv4") is None and r.get("cidrIpv6") is None for r in ingress)
    assert {r["fromPort"] for r in ingress} == {6379}
    worker_in = [
        r
        for r in rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r["securityGroupId"] == worker_sg
    ]
    assert worker_in == [], "nothing may connect to the workers"


def _worker(**kw: Any) -> Any:
    base = dict(
        region="eu-west-1",
        cluster_arn="arn:aws:ecs:eu-west-1:123456789012:cluster/c",
        cluster_name="c",
        subnet_ids=SUBNETS,
        security_group_id="sg-worker",
        image="repo@sha256:abc",
        repository_arn="arn:aws:ecr:eu-west-1:123456789012:repository/r",
        database_url="postgresql://app@proxy:5432/app",
        database_connect_arn="arn:aws:rds-db:eu-west-1:123456789012:dbuser:prx-1/app",
        cache_connect_arns=["arn:cache:group", "arn:cache:user"],
    )
    return Worker("gw-dev-worker", WorkerArgs(**{**base, **kw}))


def test_worker_is_private_has_no_load_balancer_and_rolls_back() -> None:
    rec = _record(_worker)
    service = rec.one("aws:ecs/service:Service")
    assert service["networkConfiguration"]["assignPublicIp"] is False, service.urn
    assert not service.get("loadBalancers"), service.urn
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}, service.urn
    container = json.loads(rec.one("aws:ecs/taskDefinition:TaskDefinition")["containerDefinitions"])[0]
    assert container["command"] == ["python", "-m", "groundwork_api.worker"]
    assert container["stopTimeout"] == 120
    assert "portMappings" not in container
    assert container["readonlyRootFilesystem"] is True
    assert container["user"] == "10001:10001"
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["DATABASE_IAM_AUTH"] == "true"
    assert env["DATABASE_URL"] == "postgresql://app@proxy:5432/app"


def test_worker_scales_on_backlog_per_task_and_may_only_publish_its_own_metric() -> None:
    rec = _record(_worker)
    policy = rec.one("aws:appautoscaling/policy:Policy")
    metrics = policy["targetTrackingScalingPolicyConfiguration"]["customizedMetricSpecification"]["metrics"]
    assert [m["id"] for m in metrics] == ["backlog", "tasks", "per_task"], policy.urn
    task_policy = json.loads(rec.one("aws:iam/rolePolicy:RolePolicy", "task-policy")["policy"])
    by_sid = {s["Sid"]: s for s in task_policy["Statement"]}
    assert by_sid["PublishBacklog"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Groundwork/Worker"}}
    assert by_sid["ConnectToCache"]["Resource"] == ["arn:cache:group", "arn:cache:user"]
    assert all(s["Action"] != "*" for s in task_policy["Statement"])


def _schedules(jobs: list[ScheduledJob]) -> Any:
    return Schedules(
        "gw-dev-jobs",
        SchedulesArgs(
            cluster_arn="arn:aws:ecs:eu-west-1:123456789012:cluster/c",
            task_definition_arn="arn:aws:ecs:eu-west-1:123456789012:task-definition/api:3",
            container_name="api",
            pass_role_arns=["arn:aws:iam::123456789012:role/exec", "arn:aws:iam::123456789012:role/task"],
            subnet_ids=SUBNETS,
            security_group_id="sg-worker",
            jobs=jobs,
        ),
    )


def test_a_schedule_runs_the_service_task_with_the_command_privately() -> None:
    job = ScheduledJob(
        name="prune-events", expression="cron(15 3 * * ? *)", command=["python", "-m", "x"], time_zone="Europe/Paris"
    )
    rec = _record(lambda: _schedules([job]))
    schedule = rec.one("aws:scheduler/schedule:Schedule")
    target = schedule["target"]
    assert schedule["scheduleExpressionTimezone"] == "Europe/Paris", schedule.urn
    assert target["ecsParameters"]["networkConfiguration"]["assignPublicIp"] is False, schedule.urn
    assert json.loads(target["input"]) == {"containerOverrides": [{"command": ["python", "-m", "x"], "name": "api"}]}
    policy = json.loads(rec.one("aws:iam/rolePolicy:RolePolicy")["policy"])
    run_task = next(s for s in policy["Statement"] if s["Sid"] == "RunJobTask")
    assert run_task["Resource"][0].endswith("task-definition/api"), run_task


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("rate(5 minutes)", None),
        ("rate(1 hour)", None),
        ("cron(0 12 * * ? *)", None),
        ("at(2027-01-01T00:00:00)", None),
        ("rate(1 hours)", "write rate(1 hour)"),
        ("rate(0 minutes)", "1 or more"),
        ("cron(0 12 * * *)", "6 fields"),
        ("cron(0 12 * * * *)", "exactly one"),
        ("cron(0 12 ; * ? *)", "the day-of-month field ';' is not valid"),
        ("every day", "not a rate"),
        ("cron(0/15 8-18 ? * MON-FRI *)", None),
        ("cron(0 12 L * ? *)", None),
        ("cron(0 12 15W * ? *)", None),
        ("cron(0 10 ? * 6L 2027)", None),
        ("cron(0 10 ? * 2#3 *)", None),
        ("cron(0 8 1 JAN,JUL ? *)", None),
        ("cron(x x x x x x)", "the minutes field 'x' is not valid"),
        ("cron(60 12 * * ? *)", "the minutes field '60'"),
        ("cron(0 24 * * ? *)", "the hours field '24'"),
        ("cron(0 12 32 * ? *)", "the day-of-month field '32'"),
        ("cron(0 12 * 13 ? *)", "the month field '13'"),
        ("cron(0 12 ? * 8 *)", "the day-of-week field '8'"),
        ("cron(0 12 ? * 2#6 *)", "the day-of-week field '2#6'"),
        ("cron(0 12 * * ? 2300)", "the year field '2300'"),
        ("cron(0/0 12 * * ? *)", "the minutes field '0/0'"),
        ("cron(? 12 * * ? *)", "the minutes field '?'"),
        ("cron(0 8 ? * mon-fri *)", None),
        ("cron(10-50/5 8 * * ? *)", None),
        ("cron(0 8 ? * \u017fun *)", "the day-of-week field"),
        ("cron(0 8 ? * 3#1,6#3 *)", "the day-of-week field '3#1,6#3'"),
    ],
)
def test_expressions_are_checked_like_eventbridge_scheduler(expression: str, problem: str | None) -> None:
    found = expression_problem(expression)
    assert (found is None) if problem is None else (problem in (found or "")), found


@pytest.mark.parametrize(
    ("job", "field"),
    [
        (ScheduledJob(name="bad name", expression="rate(1 day)", command=["x"]), "name"),
        (ScheduledJob(name="j", expression="daily", command=["x"]), "expression"),
        (ScheduledJob(name="j", expression="rate(1 day)", command=["x"], time_zone="Mars/Olympus"), "time_zone"),
        (ScheduledJob(name="j", expression="rate(1 day)", command=[]), "command"),
    ],
)
def test_a_bad_job_names_the_job_and_field(job: ScheduledJob, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^jobs\[0\]\.{field}="):
        _record(lambda: _schedules([job]))


def _firewall(**kw: Any) -> Any:
    return Firewall(
        "gw-dev-edge", FirewallArgs(load_balancer_arn="arn:aws:elasticloadbalancing:lb", region="eu-west-1", **kw)
    )


def test_firewall_limits_each_client_and_answers_429_with_retry_after_in_the_api_format() -> None:
    rec = _record(lambda: _firewall(rate_limit=300, rate_window_seconds=60))
    acl = rec.one("aws:wafv2/webAcl:WebAcl")
    rate = acl["rules"][0]
    assert rate["statement"]["rateBasedStatement"] == {
        "aggregateKeyType": "IP",
        "evaluationWindowSec": 60,
        "limit": 300,
    }
    response = rate["action"]["block"]["customResponse"]
    assert response["responseCode"] == 429, acl.urn
    assert response["responseHeaders"] == [{"name": "Retry-After", "value": "60"}], acl.urn
    bodies = {b["key"]: json.loads(b["content"]) for b in acl["customResponseBodies"]}
    assert bodies[response["customResponseBodyKey"]]["error"]["code"] == "rate_limited"
    association = rec.one("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert association["resourceArn"] == "arn:aws:elasticloadbalancing:lb", association.urn


def test_managed_groups_block_with_403_json_or_only_count_when_asked() -> None:
    rec = _record(lambda: _firewall(managed_rules={"core": "block", "sqlInjection": "count"}))
    rules = {r["name"]: r for r in rec.one("aws:wafv2/webAcl:WebAcl")["rules"]}
    assert rules["core"]["statement"]["managedRuleGroupStatement"]["name"] == "AWSManagedRulesCommonRuleSet"
    assert rules["core"]["overrideAction"] == {"count": {}}
    assert rules["core-block"]["action"]["block"]["customResponse"]["responseCode"] == 403
    assert rules["core-block"]["statement"]["labelMatchStatement"]["key"] == "awswaf:managed:aws:core-rule-set:"
    assert rules["sqlInjection-count"]["action"] == {"count": {}}
    assert "knownBadInputs" not in rules
    priorities = [r["priority"] for r in rules.values()]
    assert len(set(priorities)) == len(priorities)


def test_firewall_logs_go_to_a_waf_log_group_without_credentials() -> None:
    rec = _record(_firewall)
    group = rec.one("aws:cloudwatch/logGroup:LogGroup")
    assert group["name"].startswith("aws-waf-logs-"), group.urn
    assert group["retentionInDays"] == 30, group.urn
    logging = rec.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    redacted = {field["singleHeader"]["name"] for field in logging["redactedFields"]}
    assert redacted == {"authorization", "cookie"}, logging.urn


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"rate_limit": 5}, "rate_limit"),
        ({"rate_window_seconds": 30}, "rate_window_seconds"),
        ({"managed_rules": {"everything": "block"}}, "managed_rules"),
        ({"managed_rules": {"core": "allow"}}, r"managed_rules\[core\]"),
    ],
)
def test_firewall_refuses_bad_arguments_naming_the_field(kw: dict, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}="):
        _record(lambda: _firewall(**kw))
