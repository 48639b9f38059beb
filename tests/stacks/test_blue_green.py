"""The API's blue/green release in the program: strategy, target groups, rules, the test listener, the check and its
roles, under the strict mock with preview off."""

from __future__ import annotations

import json

import pytest

from stacks.settings import SettingsError
from tests.mocks import Recording, recorded, settings_for

EXTERNAL = (
    ("oidcIssuer", "https://example.eu.auth0.com/"),
    ("oidcAudience", "mobile-app,batch-service"),
)
TEST_PORT = 8443.0
WORLD = ("0.0.0.0/0", "::/0")


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> Recording:
    return recorded(request.param)


def _service(rec: Recording):
    return rec.one("aws:ecs/service:Service", "-api-service")


def _listener(rec: Recording, port: float):
    return next(r for r in rec.of_type("aws:lb/listener:Listener") if r["port"] == port)


def _group_id(rec: Recording, suffix: str) -> str:
    return rec.one("aws:ec2/securityGroup:SecurityGroup", f"-{suffix}-sg").id


def test_the_api_deploys_blue_green_with_the_check_at_the_test_traffic_stage(stack: Recording) -> None:
    service = _service(stack)
    deployment = service["deploymentConfiguration"]
    assert deployment["strategy"] == "BLUE_GREEN", service.urn
    assert deployment["bakeTimeInMinutes"] == str(stack.settings.release_bake_minutes), "a string in pulumi-aws"
    (hook,) = deployment["lifecycleHooks"]
    assert hook["lifecycleStages"] == ["POST_TEST_TRAFFIC_SHIFT"], service.urn
    assert hook["hookTargetArn"] == stack.one("aws:lambda/function:Function", "-release-check").state["arn"]
    assert hook["roleArn"] == stack.one("aws:iam/role:Role", "-release-hook-role").state["arn"]
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}, service.urn


def test_the_service_names_both_target_groups_both_rules_and_the_infrastructure_role(stack: Recording) -> None:
    (balanced,) = _service(stack)["loadBalancers"]
    blue = stack.one("aws:lb/targetGroup:TargetGroup", "-web-tg").state["arn"]
    green = stack.one("aws:lb/targetGroup:TargetGroup", "-web-tg-alt").state["arn"]
    assert balanced["targetGroupArn"] == blue
    advanced = balanced["advancedConfiguration"]
    assert advanced["alternateTargetGroupArn"] == green
    assert (
        advanced["productionListenerRule"] == stack.one("aws:lb/listenerRule:ListenerRule", "-production").state["arn"]
    )
    assert advanced["testListenerRule"] == stack.one("aws:lb/listenerRule:ListenerRule", "-test-route").state["arn"]
    role = stack.one("aws:iam/role:Role", "-release-lb-role")
    assert advanced["roleArn"] == role.state["arn"]
    attachment = stack.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "-release-lb-policy")
    assert attachment["policyArn"] == "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
    assert attachment["role"] == role.state["name"]


def test_production_and_test_rules_route_every_path_to_blue_and_leave_the_weights_to_ecs(stack: Recording) -> None:
    blue = stack.one("aws:lb/targetGroup:TargetGroup", "-web-tg").state["arn"]
    green = stack.one("aws:lb/targetGroup:TargetGroup", "-web-tg-alt").state["arn"]
    for suffix, port in (("-production", 443.0), ("-test-route", TEST_PORT)):
        rule = stack.one("aws:lb/listenerRule:ListenerRule", suffix)
        assert rule["listenerArn"] == _listener(stack, port).state["arn"], rule.urn
        assert rule["conditions"] == [{"pathPattern": {"values": ["/*"]}}], rule.urn
        (action,) = rule["actions"]
        weights = {g["arn"]: g["weight"] for g in action["forward"]["targetGroups"]}
        assert weights == {blue: 100, green: 0}, rule.urn
        assert rule.ignore_changes == ["actions"], f"{rule.urn}: ECS moves the weights"
    hidden = stack.one("aws:lb/listenerRule:ListenerRule", "-hide-metrics")
    assert hidden["priority"] < stack.one("aws:lb/listenerRule:ListenerRule", "-production")["priority"]


def test_the_test_listener_answers_nothing_of_its_own_and_is_not_open_to_the_internet(stack: Recording) -> None:
    listener = _listener(stack, TEST_PORT)
    assert listener["protocol"] == "HTTPS"
    assert [a["type"] for a in listener["defaultActions"]] == ["fixed-response"], listener.urn
    alb = _group_id(stack, "alb")
    nat = {f"{e.state['publicIp']}/32" for e in stack.of_type("aws:ec2/eip:Eip") if "-nat-" in e.name}
    admitting = [
        r
        for r in stack.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r["fromPort"] <= TEST_PORT <= r["toPort"]
    ]
    assert admitting, "the test port is admitted from somewhere"
    for rule in admitting:
        assert rule["securityGroupId"] == alb, rule.urn
        assert rule.get("cidrIpv4") not in WORLD, f"{rule.urn} is public"
        assert rule.get("cidrIpv6") not in WORLD, f"{rule.urn} is public"
        assert rule["cidrIpv4"] in nat, f"{rule.urn}: only the stack's own NAT addresses"
    assert {r["cidrIpv4"] for r in admitting} == nat, "every NAT gateway of the stack"


def test_the_check_runs_in_the_private_subnets_with_no_inbound_and_two_ways_out(stack: Recording) -> None:
    function = stack.one("aws:lambda/function:Function", "-release-check")
    group = _group_id(stack, "release-check")
    private = sorted(s.id for s in stack.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name)
    assert sorted(function["vpcConfig"]["subnetIds"]) == private
    assert function["vpcConfig"]["securityGroupIds"] == [group]
    ingress = stack.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert not [r for r in ingress if r["securityGroupId"] == group], "nothing connects to the check"
    egress = {
        (r["fromPort"], r["cidrIpv4"])
        for r in stack.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r["securityGroupId"] == group
    }
    assert egress == {(TEST_PORT, "0.0.0.0/0"), (443.0, "0.0.0.0/0")}, "the test listener and HTTPS for its token"
    env = function["environment"]["variables"]
    assert env["CHECK_URL"] == f"https://{stack.settings.host_name}:8443"
    assert env["USER_POOL_ID"] == stack.one("aws:cognito/userPool:UserPool").id
    assert "SECRET" not in " ".join(env), "the machine client's secret is read at run time, never stored"
    assert function["handler"] == "release_check.handler"
    assert set(function["code"]["archive"]) == {"release_check.py"}
    assert function["timeout"] <= 900


def test_the_check_logs_with_retention_and_its_roles_are_least_privilege(stack: Recording) -> None:
    logs = stack.one("aws:cloudwatch/logGroup:LogGroup", "-release-logs")
    function = stack.one("aws:lambda/function:Function", "-release-check")
    assert logs["name"] == f"/aws/lambda/{function['name']}"
    assert logs["retentionInDays"] == stack.settings.log_retention_days
    check = json.loads(stack.one("aws:iam/rolePolicy:RolePolicy", "-release-check-policy")["policy"])
    by_sid = {s["Sid"]: s for s in check["Statement"]}
    assert by_sid["WriteOwnLogs"]["Resource"] == f"{logs.state['arn']}:*"
    assert by_sid["ReadMachineClient"] == {
        "Sid": "ReadMachineClient",
        "Effect": "Allow",
        "Action": "cognito-idp:DescribeUserPoolClient",
        "Resource": stack.one("aws:cognito/userPool:UserPool").state["arn"],
    }
    vpc = stack.one("aws:ec2/vpc:Vpc").id
    assert by_sid["NetworkInterfacesInTheVpc"]["Condition"] == {
        "ArnLikeIfExists": {"ec2:Vpc": f"arn:aws:ec2:*:*:vpc/{vpc}"}
    }
    invoke = json.loads(stack.one("aws:iam/rolePolicy:RolePolicy", "-release-hook-policy")["policy"])
    assert invoke["Statement"] == [
        {
            "Sid": "InvokeReleaseCheck",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": function.state["arn"],
        }
    ]


def test_the_worker_keeps_rolling_deployments_with_the_circuit_breaker() -> None:
    rec = recorded("prod")
    worker = rec.one("aws:ecs/service:Service", "-worker-service")
    assert worker["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}, worker.urn
    assert worker["waitForSteadyState"] is True, worker.urn
    assert "deploymentConfiguration" not in worker.inputs, worker.urn


def test_with_an_issuer_of_your_own_the_check_runs_without_a_token() -> None:
    rec = recorded("dev", EXTERNAL)
    function = rec.one("aws:lambda/function:Function", "-release-check")
    assert not {"USER_POOL_ID", "MACHINE_CLIENT_ID", "TOKEN_ENDPOINT"} & set(function["environment"]["variables"])
    check = json.loads(rec.one("aws:iam/rolePolicy:RolePolicy", "-release-check-policy")["policy"])
    assert "ReadMachineClient" not in {s["Sid"] for s in check["Statement"]}


@pytest.mark.parametrize("value", [-1, 1441, "soon"])
def test_the_bake_time_is_validated_naming_the_key(value: object) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_for("dev", releaseBakeMinutes=value)
    assert caught.value.key == "groundwork:releaseBakeMinutes"
    assert "an integer from 0 to 1440" in str(caught.value)


def test_the_bake_time_setting_reaches_the_service() -> None:
    rec = recorded("dev", (("releaseBakeMinutes", 0),))
    assert _service(rec)["deploymentConfiguration"]["bakeTimeInMinutes"] == "0"
