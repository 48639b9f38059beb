"""Cloud `infra up` releases: the migration as a one-off task of the new task definition, then the SSM record."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from cli.core import releases
from cli.core.outputs import StackOutput
from tests.cli import events
from tests.cli.fakes import OUTPUTS

CLUSTER = "gw-dev-cluster"
SERVICE = "gw-dev-api"
TASK_DEF = "arn:aws:ecs:eu-west-1:123456789012:task-definition/gw-dev-api:8"
TASK = "arn:aws:ecs:eu-west-1:123456789012:task/gw-dev-cluster/feedface"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/gw@sha256:" + "b" * 64
PARAMETER = "/groundwork/dev/releases"
STREAM = "api/api/feedface"
LOG_GROUP = "/groundwork/dev/api"
SERVICE_OUTPUTS = {
    **OUTPUTS,
    "cluster_name": StackOutput(CLUSTER, False),
    "service_name": StackOutput(SERVICE, False),
    "task_definition_arn": StackOutput(TASK_DEF, False),
    "region": StackOutput("eu-west-1", False),
}


class Clients:
    """boto3 clients under Stubber, handed to the CLI in place of its client factory."""

    def __init__(self) -> None:
        self.made = {
            name: boto3.client(name, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
            for name in ("ssm", "ecs", "logs")
        }
        self.stubs = {name: Stubber(client) for name, client in self.made.items()}
        for stub in self.stubs.values():
            stub.activate()
        self.saved: list[list[dict]] = []

    def __call__(self, service: str):
        return self.made[service]

    def history(self, earlier: list[releases.Release]) -> None:
        self.stubs["ssm"].add_response(
            "get_parameter", {"Parameter": {"Value": releases.dump_history(earlier)}}, {"Name": PARAMETER}
        )

    def shape(self) -> None:
        ecs = self.stubs["ecs"]
        ecs.add_response(
            "describe_services",
            {
                "services": [
                    {
                        "status": "ACTIVE",
                        "taskDefinition": TASK_DEF,
                        "networkConfiguration": {
                            "awsvpcConfiguration": {"subnets": ["subnet-private-a"], "securityGroups": ["sg-api"]}
                        },
                    }
                ]
            },
            {"cluster": CLUSTER, "services": [SERVICE]},
        )
        ecs.add_response(
            "describe_task_definition",
            {
                "taskDefinition": {
                    "taskDefinitionArn": TASK_DEF,
                    "containerDefinitions": [
                        {
                            "name": "api",
                            "image": IMAGE,
                            "essential": True,
                            "logConfiguration": {
                                "logDriver": "awslogs",
                                "options": {"awslogs-group": LOG_GROUP, "awslogs-stream-prefix": "api"},
                            },
                        }
                    ],
                }
            },
            {"taskDefinition": TASK_DEF},
        )

    def migration(self, lines: list[str], exit_code: int) -> None:
        ecs, logs = self.stubs["ecs"], self.stubs["logs"]
        ecs.add_response(
            "run_task",
            {"tasks": [{"taskArn": TASK}], "failures": []},
            {
                "cluster": CLUSTER,
                "taskDefinition": TASK_DEF,
                "launchType": "FARGATE",
                "count": 1,
                "startedBy": "infra-up-migrate",
                "networkConfiguration": {
                    "awsvpcConfiguration": {
                        "subnets": ["subnet-private-a"],
                        "securityGroups": ["sg-api"],
                        "assignPublicIp": "DISABLED",
                    }
                },
                "overrides": {"containerOverrides": [{"name": "api", "command": releases.MIGRATION_COMMAND}]},
            },
        )
        stopped = {"name": "api", "exitCode": exit_code}
        ecs.add_response(
            "describe_tasks",
            {"tasks": [{"taskArn": TASK, "lastStatus": "STOPPED", "containers": [stopped], "stoppedReason": "exit"}]},
            {"cluster": CLUSTER, "tasks": [TASK]},
        )
        where = {"logGroupName": LOG_GROUP, "logStreamName": STREAM, "startFromHead": True}
        logs.add_response(
            "get_log_events", {"events": [{"message": m} for m in lines], "nextForwardToken": "f/1"}, where
        )
        logs.add_response("get_log_events", {"events": [], "nextForwardToken": "f/1"}, {**where, "nextToken": "f/1"})
        logs.add_response("get_log_events", {"events": [], "nextForwardToken": "f/1"}, {**where, "nextToken": "f/1"})

    def record(self, earlier: list[releases.Release]) -> None:
        """The history is read again just before the write (another release may have been recorded meanwhile)."""
        self.history(earlier)
        self.stubs["ssm"].add_response(
            "put_parameter",
            {"Version": 2},
            {"Name": PARAMETER, "Value": ANY, "Type": "String", "Tier": "Advanced", "Overwrite": True},
        )

    def done(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Clients:
    from cli.verify import aws

    made = Clients()
    sent: list[str] = []
    made.made["ssm"].meta.events.register(
        "provide-client-params.ssm.PutParameter", lambda params, **_: sent.append(params["Value"])
    )
    made.sent = sent
    monkeypatch.setattr(aws, "client_factory", lambda region: made)
    return made


def _script_image_update(fake):
    fake.script("preview", events=events.image_update("dev", planning=True))
    fake.script("up", events=events.image_update("dev", planning=False), result=SERVICE_OUTPUTS)


def _earlier() -> list[releases.Release]:
    return [
        releases.new_release(
            [], image="sha256:aaa", task_definition="gw-dev-api:7", settings="s", outcome=releases.PROMOTED
        )
    ]


def test_up_migrates_with_the_new_task_definition_and_records_the_release(infra, fake, clients):
    _script_image_update(fake)
    clients.history(_earlier())
    clients.shape()
    clients.migration(['{"level": "info", "event": "schema migrated", "applied": 1}'], exit_code=0)
    clients.record(_earlier())
    doc = infra.json("up", "--stack", "dev", "--yes")
    clients.done()
    assert doc["release"]["id"] == "r2"
    assert doc["release"]["outcome"] == "promoted"
    assert doc["release"]["task_definition"] == "gw-dev-api:8"
    assert doc["release"]["image"] == IMAGE
    assert doc["release"]["migration"]["exit_code"] == 0
    stored = json.loads(clients.sent[-1])
    assert [(r["id"], r["outcome"]) for r in stored] == [("r1", "promoted"), ("r2", "promoted")]
    assert stored[-1]["by"], "who released it is recorded"


def test_the_migration_output_is_shown(infra, fake, clients):
    _script_image_update(fake)
    clients.history([])
    clients.shape()
    clients.migration(['{"level": "info", "event": "schema migrated", "applied": 2}'], exit_code=0)
    clients.record([])
    result = infra("up", "--stack", "dev", "--yes", code=0)
    assert "python -m groundwork_api.migrate as a task of gw-dev-api (gw-dev-api:8)" in result.stderr
    assert '"event": "schema migrated"' in result.stderr
    assert "released r1" in result.stderr


def test_a_failed_migration_fails_up_naming_its_error_lines_and_is_recorded(infra, fake, clients):
    _script_image_update(fake)
    clients.history(_earlier())
    clients.shape()
    clients.migration(
        [
            '{"level": "info", "event": "connecting"}',
            '{"level": "error", "event": "migration failed", "reason": "column \\"owner\\" already exists"}',
        ],
        exit_code=1,
    )
    clients.record(_earlier())
    doc = infra.json("up", "--stack", "dev", "--yes", code=1)
    clients.done()
    message = doc["error"]["message"]
    assert "the migration failed (exit 1" in message
    assert 'column \\"owner\\" already exists' in message
    assert "connecting" not in message, "only the migration's error lines are named"
    assert doc["release"]["outcome"] == "failed before traffic"
    stored = json.loads(clients.sent[-1])
    assert stored[-1]["outcome"] == "failed before traffic"
    assert stored[-1]["failed_checks"] == ["migration"]


def test_nothing_applied_and_the_live_release_is_this_one_runs_no_task(infra, fake, clients):
    fake.script("preview", events=events.nothing_to_do("dev", planning=True))
    fake.script("outputs", result=SERVICE_OUTPUTS)
    live = [
        releases.new_release([], image=IMAGE, task_definition="gw-dev-api:8", settings="s", outcome=releases.PROMOTED)
    ]
    clients.history(live)
    result = infra("up", "--stack", "dev", "--yes", code=0)
    clients.done()
    assert "release r1 (gw-dev-api:8) is live; nothing to release" in result.stderr


def test_a_stack_without_a_service_releases_nothing(infra, fake, clients):
    fake.script("preview", events=events.first_deploy("dev", planning=True))
    fake.script("up", events=events.first_deploy("dev", planning=False), result=OUTPUTS)
    doc = infra.json("up", "--stack", "dev", "--yes")
    assert doc["release"] is None
    clients.done()
