"""Load balancer checks: listeners, TLS policy and target counts with moto; unhealthy targets with a Stubber."""

from __future__ import annotations

import boto3

from cli.verify import loadbalancer
from cli.verify.model import Status
from stacks import outputs as out
from tests.cli.verify import stack as healthy
from tests.cli.verify.conftest import find, not_passing


def _elbv2():
    return boto3.client("elbv2", region_name=healthy.REGION)


def test_an_http_listener_that_forwards_instead_of_redirecting_fails(verify, cloud):
    _elbv2().modify_listener(
        ListenerArn=cloud.http_listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": cloud.target_group}]
    )
    report = verify()
    check = find(report, "load balancer", "HTTP redirects")
    assert (check.status, check.observed) == (Status.FAIL, "HTTP :80 forward to targets")
    assert [(f, n) for _, f, n, _ in not_passing(report)] == [("load balancer", "HTTP redirects")]


def test_no_http_listener_fails(verify, cloud):
    _elbv2().delete_listener(ListenerArn=cloud.http_listener)
    check = find(verify(), "load balancer", "HTTP redirects")
    assert (check.status, check.observed) == (Status.FAIL, "no listener on port 80")


def test_a_policy_that_still_offers_tls_1_0_fails(verify, cloud):
    _elbv2().modify_listener(ListenerArn=cloud.https_listener, SslPolicy="ELBSecurityPolicy-2016-08")
    check = find(verify(), "load balancer", "TLS policy")
    assert check.status is Status.FAIL
    assert check.observed.startswith("ELBSecurityPolicy-2016-08 offers TLSv1")


def test_a_tls_1_2_policy_without_tls_1_3_only_warns(verify, cloud):
    _elbv2().modify_listener(ListenerArn=cloud.https_listener, SslPolicy="ELBSecurityPolicy-TLS-1-2-2017-01")
    check = find(verify(), "load balancer", "TLS policy")
    assert (check.status, check.observed) == (Status.WARN, "ELBSecurityPolicy-TLS-1-2-2017-01 offers TLSv1.2")


def test_https_with_another_certificate_fails(verify, cloud):
    other = healthy.import_certificate()
    _elbv2().modify_listener(ListenerArn=cloud.https_listener, Certificates=[{"CertificateArn": other}])
    check = find(verify(), "load balancer", "HTTPS certificate")
    assert check.status is Status.FAIL
    assert check.observed == f"HTTPS :443 with {other}"
    assert check.expected == f"HTTPS :443 with {cloud.certificate}"


def test_fewer_healthy_targets_than_desired_fails(verify, cloud):
    _elbv2().deregister_targets(TargetGroupArn=cloud.target_group, Targets=[{"Id": "10.0.1.10", "Port": 8000}])
    check = find(verify(), "load balancer", "healthy targets")
    assert (check.status, check.observed) == (Status.FAIL, "0 healthy of 0 registered")
    assert check.expected == "at least 1 healthy (the service's desired count)"


def test_a_load_balancer_that_is_gone_fails(verify):
    report = verify(derived_only=True, outputs={out.LOAD_BALANCER_DNS: "gw-dev-web-alb-0.eu-west-1.elb.amazonaws.com"})
    check = find(report, "load balancer", "exists")
    assert check.observed == "no load balancer has the DNS name gw-dev-web-alb-0.eu-west-1.elb.amazonaws.com"


def test_unhealthy_targets_are_named_with_their_reason(stubbed):
    """moto reports every registered ip target healthy, so failing health checks are stubbed."""
    group = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/gw-dev-web-tg/0123456789abcdef"

    def script(stubber):
        stubber.add_response(
            "describe_target_health",
            {
                "TargetHealthDescriptions": [
                    {"Target": {"Id": "10.0.1.10", "Port": 8000}, "TargetHealth": {"State": "healthy"}},
                    {
                        "Target": {"Id": "10.0.2.11", "Port": 8000},
                        "TargetHealth": {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch"},
                    },
                ]
            },
            {"TargetGroupArn": group},
        )

    ctx = stubbed({}, elbv2=script)
    check = loadbalancer.check_healthy_targets(group, loadbalancer.target_health(ctx, group), 2)
    assert check.status is Status.FAIL
    assert check.observed == "1 healthy of 2 registered: 10.0.2.11 unhealthy (Target.ResponseCodeMismatch)"
    assert check.resource == "targetgroup/gw-dev-web-tg/0123456789abcdef"


def test_a_blue_green_service_counts_the_targets_of_both_groups(stubbed):
    """After a release ECS has moved the tasks into the alternate group; the first one is empty, and fine."""
    blue = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/gw-dev-web-tg/0123456789abcdef"
    green = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/gw-dev-web-tg-alt/fedcba9876543210"

    def ecs(stubber):
        entry = {"targetGroupArn": blue, "advancedConfiguration": {"alternateTargetGroupArn": green}}
        stubber.add_response(
            "describe_services",
            {"services": [{"serviceName": "gw-dev-api", "desiredCount": 1, "loadBalancers": [entry]}]},
            {"cluster": "gw-dev-cluster", "services": ["gw-dev-api"]},
        )

    def elbv2(stubber):
        stubber.add_response("describe_target_health", {"TargetHealthDescriptions": []}, {"TargetGroupArn": blue})
        healthy_target = {"Target": {"Id": "10.0.1.10", "Port": 8000}, "TargetHealth": {"State": "healthy"}}
        stubber.add_response(
            "describe_target_health", {"TargetHealthDescriptions": [healthy_target]}, {"TargetGroupArn": green}
        )

    ctx = stubbed({out.CLUSTER_NAME: "gw-dev-cluster", out.SERVICE_NAME: "gw-dev-api"}, ecs=ecs, elbv2=elbv2)
    assert loadbalancer.serving_groups(ctx, blue) == [blue, green]
    health = [
        item for group in loadbalancer.serving_groups(ctx, blue) for item in loadbalancer.target_health(ctx, group)
    ]
    check = loadbalancer.check_healthy_targets(blue, health, loadbalancer.desired_count(ctx))
    assert (check.status, check.observed) == (Status.PASS, "1 healthy of 1 registered")


def test_without_the_service_the_alternate_group_comes_from_the_stack_output(stubbed):
    """ECS reports no such service (deleted, or another cluster): the stack's output still names the second group."""
    blue = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/gw-dev-web-tg/0123456789abcdef"
    green = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/gw-dev-web-tg-alt/fedcba9876543210"

    def ecs(stubber):
        missing = {"services": [], "failures": [{"arn": "gw-dev-api", "reason": "MISSING"}]}
        stubber.add_response("describe_services", missing, {"cluster": "gw-dev-cluster", "services": ["gw-dev-api"]})

    outputs = {out.CLUSTER_NAME: "gw-dev-cluster", out.SERVICE_NAME: "gw-dev-api"}
    ctx = stubbed({**outputs, out.ALTERNATE_TARGET_GROUP_ARN: green}, ecs=ecs)
    assert loadbalancer.serving_groups(ctx, blue) == [blue, green]
    assert loadbalancer.serving_groups(stubbed(outputs, ecs=ecs), blue) == [blue]


def test_without_the_service_the_target_group_comes_from_the_https_listener(verify):
    report = verify(derived_only=True, outputs={out.SERVICE_NAME: "gw-dev-api-gone"})
    check = find(report, "load balancer", "healthy targets")
    assert check.resource.startswith("targetgroup/gw-dev-web-tg-89abcde/")
    assert check.status is Status.PASS
    assert find(report, "service", "exists").status is Status.FAIL
