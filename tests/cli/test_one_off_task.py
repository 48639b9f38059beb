"""`infra run` on a cloud stack: RunTask with the service's shape, logs streamed, exit code, checked by Stubber."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from cli.cloud.one_off import TaskShape, run_task, service_shape
from cli.core.errors import ConfigError, OperationFailed

CLUSTER = "gw-dev-cluster"
SERVICE = "gw-dev-api"
TASK_DEF = "arn:aws:ecs:eu-west-1:123456789012:task-definition/gw-dev-api:7"
TASK = "arn:aws:ecs:eu-west-1:123456789012:task/gw-dev-cluster/0123456789abcdef"
SHAPE = TaskShape(
    cluster=CLUSTER,
    task_definition=TASK_DEF,
    container="api",
    subnets=["subnet-private-a", "subnet-private-b"],
    security_groups=["sg-service"],
    log_group="/groundwork/dev/api",
    log_prefix="api",
)
STREAM = "api/api/0123456789abcdef"


def _clients():
    ecs = boto3.client("ecs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    logs = boto3.client("logs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    return ecs, logs, Stubber(ecs), Stubber(logs)


def _task(status: str, exit_code: int | None = None) -> dict:
    container = {"name": "api"}
    if exit_code is not None:
        container["exitCode"] = exit_code
    return {"tasks": [{"taskArn": TASK, "lastStatus": status, "containers": [container], "stoppedReason": "done"}]}


def test_the_service_shape_is_its_private_network_and_task_definition():
    ecs, _, stub, _ = _clients()
    stub.add_response(
        "describe_services",
        {
            "services": [
                {
                    "status": "ACTIVE",
                    "taskDefinition": TASK_DEF,
                    "networkConfiguration": {
                        "awsvpcConfiguration": {"subnets": ["subnet-private-a"], "securityGroups": ["sg-service"]}
                    },
                }
            ]
        },
        {"cluster": CLUSTER, "services": [SERVICE]},
    )
    stub.add_response(
        "describe_task_definition",
        {
            "taskDefinition": {
                "taskDefinitionArn": TASK_DEF,
                "containerDefinitions": [
                    {
                        "name": "api",
                        "essential": True,
                        "logConfiguration": {
                            "logDriver": "awslogs",
                            "options": {"awslogs-group": "/groundwork/dev/api", "awslogs-stream-prefix": "api"},
                        },
                    }
                ],
            }
        },
        {"taskDefinition": TASK_DEF},
    )
    with stub:
        shape = service_shape(ecs, cluster=CLUSTER, service=SERVICE)
    assert shape == TaskShape(
        CLUSTER, TASK_DEF, "api", ["subnet-private-a"], ["sg-service"], "/groundwork/dev/api", "api"
    )
    stub.assert_no_pending_responses()


def test_a_missing_service_is_named():
    ecs, _, stub, _ = _clients()
    stub.add_response("describe_services", {"services": []}, {"cluster": CLUSTER, "services": [SERVICE]})
    with stub, pytest.raises(ConfigError, match="no active ECS service 'gw-dev-api'"):
        service_shape(ecs, cluster=CLUSTER, service=SERVICE)


def test_run_streams_the_logs_and_returns_the_exit_code():
    ecs, logs, ecs_stub, logs_stub = _clients()
    ecs_stub.add_response(
        "run_task",
        {"tasks": [{"taskArn": TASK}], "failures": []},
        {
            "cluster": CLUSTER,
            "taskDefinition": TASK_DEF,
            "launchType": "FARGATE",
            "count": 1,
            "startedBy": "infra-run",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": SHAPE.subnets,
                    "securityGroups": SHAPE.security_groups,
                    "assignPublicIp": "DISABLED",
                }
            },
            "overrides": {
                "containerOverrides": [{"name": "api", "command": ["python", "-m", "groundwork_api.migrate"]}]
            },
        },
    )
    where = {"logGroupName": SHAPE.log_group, "logStreamName": STREAM, "startFromHead": True}
    # Pending: no stream yet.
    ecs_stub.add_response("describe_tasks", _task("PENDING"), {"cluster": CLUSTER, "tasks": [TASK]})
    logs_stub.add_client_error("get_log_events", "ResourceNotFoundException", expected_params=where)
    # Running: two lines, then nothing new.
    ecs_stub.add_response("describe_tasks", _task("RUNNING"), {"cluster": CLUSTER, "tasks": [TASK]})
    logs_stub.add_response(
        "get_log_events",
        {"events": [{"message": "migrating"}, {"message": "applied 1"}], "nextForwardToken": "f/1"},
        where,
    )
    logs_stub.add_response("get_log_events", {"events": [], "nextForwardToken": "f/1"}, {**where, "nextToken": "f/1"})
    # Stopped: the last line, then the final read.
    ecs_stub.add_response("describe_tasks", _task("STOPPED", 3), {"cluster": CLUSTER, "tasks": [TASK]})
    logs_stub.add_response(
        "get_log_events", {"events": [{"message": "failed"}], "nextForwardToken": "f/2"}, {**where, "nextToken": "f/1"}
    )
    logs_stub.add_response("get_log_events", {"events": [], "nextForwardToken": "f/2"}, {**where, "nextToken": "f/2"})
    logs_stub.add_response("get_log_events", {"events": [], "nextForwardToken": "f/2"}, {**where, "nextToken": "f/2"})
    lines: list[str] = []
    with ecs_stub, logs_stub:
        result = run_task(
            ecs, logs, SHAPE, ["python", "-m", "groundwork_api.migrate"], on_line=lines.append, sleep=lambda _: None
        )
    assert lines == ["migrating", "applied 1", "failed"]
    assert result.exit_code == 3
    assert result.log_stream == STREAM
    ecs_stub.assert_no_pending_responses()
    logs_stub.assert_no_pending_responses()


def test_a_task_ecs_cannot_place_fails_with_its_reason():
    ecs, logs, ecs_stub, _ = _clients()
    ecs_stub.add_response("run_task", {"tasks": [], "failures": [{"arn": "x", "reason": "RESOURCE:ENI"}]})
    with ecs_stub, pytest.raises(OperationFailed, match="RESOURCE:ENI"):
        run_task(ecs, logs, SHAPE, ["true"], on_line=print, sleep=lambda _: None)
