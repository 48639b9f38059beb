"""Service checks: tasks and task definitions with moto; deployments moto cannot roll back with a Stubber."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from cli.verify import service
from cli.verify.model import Status
from stacks import outputs as out
from tests.cli.verify import stack as healthy
from tests.cli.verify.conftest import find, find_in

OTHER_IMAGE = healthy.IMAGE.replace("ab" * 32, "cd" * 32)


def test_tasks_that_never_start_fail(verify, cloud, monkeypatch):
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "0")
    boto3.client("ecs", region_name=healthy.REGION).create_service(
        cluster=healthy.CLUSTER,
        serviceName="gw-dev-api-stuck",
        taskDefinition=cloud.task_definition,
        desiredCount=1,
        launchType="FARGATE",
    )
    report = verify(outputs={out.SERVICE_NAME: "gw-dev-api-stuck"})
    running = find(report, "service", "tasks running")
    assert (running.status, running.observed) == (Status.FAIL, "0 of 1 task(s) running, 1 pending")
    deployment = find(report, "service", "deployment completed")
    assert deployment.status is Status.WARN
    assert "IN_PROGRESS" in deployment.observed


def test_a_service_on_another_revision_fails_the_task_definition_check(verify):
    newer = healthy.register_task(cpu="512", memory="1024")
    boto3.client("ecs", region_name=healthy.REGION).update_service(
        cluster=healthy.CLUSTER, service=healthy.SERVICE, taskDefinition=newer
    )
    check = find(verify(), "service", "task definition")
    assert check.status is Status.FAIL
    assert check.observed == (
        "gw-dev-api:2: revision 2 runs, 1 declared; 512 CPU units, 256 declared (serviceCpu); "
        "1024 MiB, 512 declared (serviceMemory)"
    )


def test_an_image_other_than_the_declared_one_fails(verify):
    other = healthy.register_task(image=OTHER_IMAGE)
    boto3.client("ecs", region_name=healthy.REGION).update_service(
        cluster=healthy.CLUSTER, service=healthy.SERVICE, taskDefinition=other
    )
    check = find(verify(derived_only=True), "service", "task definition")
    assert check.status is Status.FAIL
    assert check.observed == f"gw-dev-api:2: image {OTHER_IMAGE}, {healthy.IMAGE} declared"


def test_a_missing_service_fails(verify):
    check = find(verify(outputs={out.SERVICE_NAME: "gw-dev-api-gone"}), "service", "exists")
    assert check.observed == f"ECS has no service gw-dev-api-gone in cluster {healthy.CLUSTER} (MISSING)"


def test_a_missing_output_names_the_output(verify):
    check = find(verify(outputs={out.CLUSTER_NAME: None}), "service", "identify")
    assert check.status is Status.FAIL
    assert check.observed == "the stack has no output 'cluster_name'"


STARTED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task-definition/gw-dev-api:7"


def _service(deployments, events, running=1):
    return {
        "serviceName": healthy.SERVICE,
        "status": "ACTIVE",
        "desiredCount": 1,
        "runningCount": running,
        "pendingCount": 0,
        "taskDefinition": TASK_ARN,
        "deployments": deployments,
        "events": events,
    }


def _script(stubber, described):
    stubber.add_response(
        "describe_services",
        {"services": [described], "failures": []},
        {"cluster": healthy.CLUSTER, "services": [healthy.SERVICE]},
    )
    stubber.add_response(
        "describe_task_definition",
        {
            "taskDefinition": {
                "taskDefinitionArn": TASK_ARN,
                "family": "gw-dev-api",
                "revision": 7,
                "cpu": "256",
                "memory": "512",
                "status": "ACTIVE",
                "containerDefinitions": [{"name": "api", "image": healthy.IMAGE}],
            }
        },
        {"taskDefinition": TASK_ARN},
    )


def _context(stubbed, described):
    outputs = {out.CLUSTER_NAME: healthy.CLUSTER, out.SERVICE_NAME: healthy.SERVICE, out.IMAGE_REF: healthy.IMAGE}
    return stubbed(outputs, ecs=lambda s: _script(s, described))


def _deployment(state, created, reason=None, status="PRIMARY"):
    item = {"id": f"ecs-svc/{created.minute}", "status": status, "rolloutState": state, "createdAt": created}
    if reason:
        item["rolloutStateReason"] = reason
    return item


def test_a_deployment_rolled_back_by_the_circuit_breaker_fails(stubbed):
    """moto cannot fail a deployment, so what ECS reports (a FAILED deployment beside the rollback) is stubbed."""
    described = _service(
        [
            _deployment("IN_PROGRESS", STARTED + timedelta(minutes=5)),
            _deployment("FAILED", STARTED, "ECS deployment circuit breaker: tasks failed to start.", status="ACTIVE"),
        ],
        [
            {
                "id": "e1",
                "createdAt": STARTED + timedelta(minutes=5),
                "message": "(service api) rolling back to deployment ecs-svc/1.",
            }
        ],
    )
    checks = service.verify(_context(stubbed, described))
    rollback = find_in(checks, "no rollback")
    assert rollback.status is Status.FAIL
    assert (
        rollback.observed
        == "rolled back: deployment ecs-svc/0 failed: ECS deployment circuit breaker: tasks failed to start."
    )
    assert find_in(checks, "deployment completed").status is Status.WARN


def test_a_finished_rollback_is_still_reported(stubbed):
    """After a rollback completes ECS lists only the rollback deployment; its event is the evidence (stubbed)."""
    primary = STARTED + timedelta(minutes=8)
    described = _service(
        [_deployment("COMPLETED", primary)],
        [
            {
                "id": "e3",
                "createdAt": primary + timedelta(minutes=6),
                "message": "(service api) has reached a steady state.",
            },
            {
                "id": "e2",
                "createdAt": primary - timedelta(seconds=20),
                "message": "(service api) rolling back to deployment ecs-svc/3.",
            },
        ],
    )
    check = find_in(service.verify(_context(stubbed, described)), "no rollback")
    assert (check.status, check.observed) == (
        Status.FAIL,
        "rolled back: (service api) rolling back to deployment ecs-svc/3.",
    )


def test_a_rollback_before_the_current_deployment_is_history(stubbed):
    """An old rollback event, days before the deployment now running, does not fail the check (stubbed events)."""
    described = _service(
        [_deployment("COMPLETED", STARTED)],
        [
            {
                "id": "e1",
                "createdAt": STARTED - timedelta(days=3),
                "message": "(service api) rolling back to deployment ecs-svc/1.",
            }
        ],
    )
    checks = service.verify(_context(stubbed, described))
    assert find_in(checks, "no rollback").status is Status.PASS
    assert find_in(checks, "deployment completed").status is Status.PASS
    assert find_in(checks, "task definition").observed == "gw-dev-api:7: as declared"
