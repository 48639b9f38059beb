"""The plan's cache, firewall, schedules and ECS services as the local stack reads them; hostile input refused."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from cli.local import mapping, mapping_edge, nginx
from cli.local.mapping import MappingError


@dataclass
class Declared:
    """A recorded resource as the mapping reads it."""

    type: str
    name: str
    inputs: dict
    state: dict = field(default_factory=dict)
    parent: str = ""
    id: str = ""

    @property
    def urn(self) -> str:
        return f"urn:pulumi:local::groundwork::{self.type}::{self.name}"


def by_type(*resources: Declared) -> dict[str, list[Declared]]:
    found: dict[str, list[Declared]] = {}
    for resource in resources:
        found.setdefault(resource.type, []).append(resource)
    return found


def _same(value):
    return value


def cache(
    access: str = "on ~* +@all -@dangerous", parameters: list | None = None, node: str = "cache.t4g.micro"
) -> dict:
    return mapping._cache(
        by_type(
            Declared(
                mapping.REPLICATION_GROUP,
                "c-group",
                {
                    "port": 6379.0,
                    "nodeType": node,
                    "transitEncryptionEnabled": True,
                    "parameterGroupName": "c-params",
                    "userGroupIds": ["c-users"],
                },
                id="c",
            ),
            Declared(
                "aws:elasticache/parameterGroup:ParameterGroup",
                "c-params",
                {"parameters": parameters or [{"name": "maxmemory-policy", "value": "allkeys-lru"}]},
                state={"name": "c-params"},
            ),
            Declared(
                "aws:elasticache/userGroup:UserGroup", "c-users", {"userGroupId": "c-users", "userIds": ["c-app"]}
            ),
            Declared(
                "aws:elasticache/user:User",
                "c-app-user",
                {"userId": "c-app", "userName": "c-app", "accessString": access, "authenticationMode": {"type": "iam"}},
            ),
        ),
        _same,
    )


def test_the_cache_reads_port_tls_users_and_parameters():
    found = cache(parameters=[{"name": "maxmemory-policy", "value": "volatile-lru"},
                              {"name": "reserved-memory-percent", "value": "25"}])  # fmt: skip
    assert (found["port"], found["tls"]) == (6379, True)
    # ElastiCache's own parameter left out; the node's memory less its reserved share bounds the data set.
    assert found["parameters"] == {"maxmemory-policy": "volatile-lru", "maxmemory": "384mb"}
    assert [(u["name"], u["access"], u["auth"]) for u in found["users"]] == [
        ("c-app", "on ~* +@all -@dangerous", "iam")
    ]


def test_the_local_cache_is_bounded_by_the_nodes_memory_less_the_reserved_share():
    found = cache(parameters=[{"name": "reserved-memory-percent", "value": "50"}], node="cache.t4g.small")
    assert found["parameters"]["maxmemory"] == "701mb"
    with pytest.raises(MappingError, match=r"cache\.x9\.huge"):
        cache(node="cache.x9.huge")


@pytest.mark.parametrize(
    "access",
    [
        "on >plaintext ~* +@all",
        "on #0123 ~* +@all",
        'on ~* +@all "\nuser evil on nopass',
        "on ~a\\b +@all",
        "on ~* +@all nopass",
        'on ~k"x +@all',
    ],
)
def test_an_access_string_that_carries_a_password_or_breaks_the_config_is_refused(access):
    with pytest.raises(MappingError, match="c-app-user"):
        cache(access=access)


@pytest.mark.parametrize(
    ("name", "value"),
    [("maxmemory-policy", 'allkeys-lru"\nuser x on nopass'), ("maxmemory policy", "x"), ("loglevel", "a\\b")],
)
def test_a_parameter_redis_cannot_take_is_refused(name, value):
    with pytest.raises(MappingError, match="c-params"):
        cache(parameters=[{"name": name, "value": value}])


def acl(rules: list[dict], bodies: list[dict] | None = None) -> dict:
    inputs = {"rules": rules, "customResponseBodies": bodies or []}
    return mapping._firewall(by_type(Declared(mapping.WEB_ACL, "edge-acl", inputs)))


def rate_rule(action: dict | None = None, **statement) -> dict:
    return {
        "name": "rate-limit",
        "priority": 0.0,
        "statement": {"rateBasedStatement": {"limit": 100.0, "evaluationWindowSec": 300.0, "aggregateKeyType": "IP",
                                             **statement}},
        "action": action if action is not None else {"block": {"customResponse": {
            "responseCode": 429.0, "customResponseBodyKey": "limited",
            "responseHeaders": [{"name": "Retry-After", "value": "300"}]}}},
    }  # fmt: skip


MANAGED = {
    "name": "core",
    "priority": 1.0,
    "statement": {"managedRuleGroupStatement": {"vendorName": "AWS", "name": "AWSManagedRulesCommonRuleSet"}},
    "overrideAction": {"count": {}},
}


def test_the_rate_rule_is_realised_and_the_managed_rules_are_cloud_only():
    body = {"key": "limited", "content": '{"error": "slow down"}', "contentType": "APPLICATION_JSON"}
    found = acl([MANAGED, rate_rule()], [body])
    assert found["rate"] == {
        "rule": "rate-limit",
        "mode": "block",
        "limit": 100,
        "window": 300,
        "status": 429,
        "headers": {"Retry-After": "300"},
        "content_type": "application/json",
        "body": '{"error": "slow down"}',
    }
    assert found["cloud_only_rules"] == ["core"]
    zone, limit = nginx.rate_limiting(found["rate"])
    answer = nginx.error_pages({}, found["rate"])
    assert "rate=20r/m" in zone  # 100 per 300 s
    assert "burst=99 nodelay" in limit
    assert "limit_req_dry_run" not in limit
    assert "add_header Retry-After '300' always;" in answer


def test_a_rate_rule_that_only_counts_is_a_dry_run():
    found = acl([rate_rule(action={"count": {}})])
    assert found["rate"]["mode"] == "count"
    assert "limit_req_dry_run on;" in nginx.rate_limiting(found["rate"])[1]


def test_a_rate_rule_keyed_on_something_nginx_cannot_see_is_cloud_only():
    found = acl([rate_rule(aggregateKeyType="FORWARDED_IP", forwardedIpConfig={"headerName": "X-Forwarded-For"})])
    assert found["rate"] is None
    assert found["cloud_only_rules"] == ["rate-limit"]


@pytest.mark.parametrize(
    "custom",
    [
        {"responseCode": 200.0},
        {"responseCode": 429.0, "responseHeaders": [{"name": "Retry-After", "value": "1\r\nSet-Cookie: x=1"}]},
        {"responseCode": 429.0, "responseHeaders": [{"name": "Bad Header", "value": "1"}]},
    ],
)
def test_a_rate_rule_answer_nginx_cannot_send_is_refused(custom):
    with pytest.raises(MappingError, match="rate-limit"):
        acl([rate_rule(action={"block": {"customResponse": custom}})])


def test_a_body_with_quotes_and_dollars_reaches_nginx_literally():
    rate = acl([rate_rule()], [{"key": "limited", "content": 'it\'s $5 \\ "quoted"', "contentType": "TEXT_PLAIN"}])
    answer = nginx.error_pages({}, rate["rate"])
    assert "return 429 'it\\'s ${dollar}5 \\\\ \"quoted\"';" in answer
    assert "default_type 'text/plain';" in answer


def task(name: str, container: str, **extra) -> Declared:
    definition = {"name": container, "essential": True, **extra}
    return Declared(
        "aws:ecs/taskDefinition:TaskDefinition",
        name,
        {"containerDefinitions": json.dumps([definition])},
        state={"arn": f"arn:task/{name}"},
    )


def service(name: str, task_name: str, *, fronted: bool = False) -> Declared:
    inputs = {"taskDefinition": f"arn:task/{task_name}", "desiredCount": 1.0}
    if fronted:
        inputs["loadBalancers"] = [{"containerPort": 8000.0}]
    return Declared("aws:ecs/service:Service", name, inputs)


API_TASK = task("api-task", "api", portMappings=[{"containerPort": 8000}], command=["serve"])


def test_the_service_behind_the_load_balancer_is_the_api_and_the_others_are_workers():
    api, workers = mapping._ecs(
        by_type(
            API_TASK,
            task("w-task", "worker", command=["python", "-m", "w"], entryPoint=["tini", "--"]),
            service("api-svc", "api-task", fronted=True),
            service("w-svc", "w-task"),
        )
    )
    assert (api["service"], api["port"], api["command"]) == ("api", 8000, ["serve"])
    assert [(w["service"], w["entry_point"], w["command"]) for w in workers] == [
        ("worker", ["tini", "--"], ["python", "-m", "w"])
    ]


@pytest.mark.parametrize("container", ["api", "tls", "Worker", "../x", ""])
def test_a_worker_whose_container_cannot_name_a_local_service_is_refused(container):
    with pytest.raises(MappingError, match="w-task"):
        mapping._ecs(
            by_type(
                API_TASK, task("w-task", container), service("api-svc", "api-task", fronted=True),
                service("w-svc", "w-task"),
            )
        )  # fmt: skip


def schedule(expression: str = "rate(1 hour)", target: dict | None = None) -> Declared:
    overrides = {"containerOverrides": [{"name": "api", "command": ["python", "-m", "jobs", "prune"]}]}
    return Declared(
        mapping.SCHEDULE,
        "gw-jobs-prune",
        {
            "scheduleExpression": expression,
            "scheduleExpressionTimezone": "Europe/Paris",
            "target": target
            or {"ecsParameters": {"taskDefinitionArn": "arn:task/api-task"}, "input": json.dumps(overrides)},
        },
        parent="urn:pulumi:local::groundwork::groundwork:schedules:Schedules::gw-jobs",
    )


TASKS = {"arn:task/api-task": {"service": "api", "container": "api", "command": ["serve"], "entry_point": ["tini"]}}


def test_a_schedule_runs_its_command_override_after_the_entry_point():
    (found,) = mapping._schedules(by_type(schedule()), TASKS)
    assert (found["name"], found["service"], found["time_zone"]) == ("prune", "api", "Europe/Paris")
    assert found["command"] == ["tini", "python", "-m", "jobs", "prune"]
    assert found["enabled"] is True


def test_a_schedule_of_something_else_than_a_task_of_the_program_is_refused():
    with pytest.raises(MappingError, match="gw-jobs-prune"):
        mapping._schedules(by_type(schedule(target={"arn": "arn:aws:lambda:::function:f"})), TASKS)


def test_a_schedule_whose_expression_the_timer_cannot_compute_is_refused():
    with pytest.raises(MappingError, match="gw-jobs-prune"):
        mapping._schedules(by_type(schedule("cron(x * * * ? *)")), TASKS)


def listeners(https: dict | None = None, http: dict | None = None) -> dict:
    found = by_type(
        Declared(
            "aws:lb/listener:Listener",
            "web-https",
            {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", **(https or {})},
        ),
        Declared(
            "aws:lb/listener:Listener",
            "web-http",
            {
                "protocol": "HTTP",
                "defaultActions": [
                    {"type": "redirect", "redirect": {"protocol": "HTTPS", "host": "api.example.com", "port": "443"}}
                ],
                **(http or {}),
            },
        ),
        Declared("aws:lb/targetGroup:TargetGroup", "web-tg", {"port": 8000.0}),
    )
    return mapping_edge.load_balancer(found)


def test_the_listeners_headers_and_redirect_target_reach_the_spec():
    found = listeners(
        https={
            "routingHttpResponseStrictTransportSecurityHeaderValue": "max-age=63072000; includeSubDomains",
            "routingHttpResponseContentSecurityPolicyHeaderValue": "default-src 'none'; frame-ancestors 'none'",
            "routingHttpResponseXFrameOptionsHeaderValue": "DENY",
            "routingHttpResponseXContentTypeOptionsHeaderValue": "nosniff",
            "routingHttpResponseServerEnabled": False,
        },
        http={"routingHttpResponseServerEnabled": False},
    )
    assert found["https"]["headers"] == {
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
    }
    assert found["https"]["server_header"] is False
    assert found["redirect"]["host"] == "api.example.com"
    assert found["redirect"]["port"] == "443"
    assert found["redirect"]["server_header"] is False


def test_a_listener_without_header_attributes_adds_none_and_names_its_server():
    found = listeners()
    assert found["https"]["headers"] == {}
    assert found["https"]["server_header"] is True


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", 'say "hi"', "back\\slash", ""])
def test_a_header_value_nginx_cannot_send_is_refused(value):
    with pytest.raises(MappingError, match="routingHttpResponseXFrameOptionsHeaderValue"):
        listeners(https={"routingHttpResponseXFrameOptionsHeaderValue": value})
