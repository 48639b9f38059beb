"""Cloud blue/green releases: `infra up` follows the deployment after the migration and records how ECS ended it
(the release check's verdict read from its log group); `infra rollback` deploys an earlier release the same way.
The engine is scripted; ECS, CloudWatch Logs and SSM are botocore Stubbers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cli.core import releases
from cli.core.outputs import StackOutput
from tests.cli import events
from tests.cli.test_up_release import (
    CLUSTER,
    IMAGE,
    SERVICE,
    SERVICE_OUTPUTS,
    TASK_DEF,
    Clients,
)

LOG_GROUP = "/aws/lambda/gw-dev-release-check"
DEPLOYMENT = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/gw-dev-cluster/gw-dev-api/abc"
REVISION = "arn:aws:ecs:eu-west-1:123456789012:service-revision/gw-dev-cluster/gw-dev-api/9"
CREATED = datetime(2025, 8, 1, 12, 0, tzinfo=UTC)
OLD_TASK_DEF = "arn:aws:ecs:eu-west-1:123456789012:task-definition/gw-dev-api:7"
BLUE_GREEN_OUTPUTS = {**SERVICE_OUTPUTS, "release_check_log_group": StackOutput(LOG_GROUP, False)}


class BlueGreenClients(Clients):
    """The release clients plus what following a blue/green deployment asks of ECS and CloudWatch Logs."""

    def deployment(self, task_definition: str, statuses: list[tuple[str, str]]) -> None:
        ecs = self.stubs["ecs"]
        brief = {"serviceDeploymentArn": DEPLOYMENT, "targetServiceRevisionArn": REVISION, "createdAt": CREATED}
        ecs.add_response(
            "list_service_deployments",
            {"serviceDeployments": [brief]},
            {"cluster": CLUSTER, "service": SERVICE, "maxResults": 10},
        )
        ecs.add_response(
            "describe_service_revisions",
            {"serviceRevisions": [{"serviceRevisionArn": REVISION, "taskDefinition": task_definition}]},
            {"serviceRevisionArns": [REVISION]},
        )
        for status, stage in statuses:
            described = {
                "serviceDeploymentArn": DEPLOYMENT,
                "status": status,
                "lifecycleStage": stage,
                "createdAt": CREATED,
                "targetServiceRevision": {"arn": REVISION},
                "deploymentConfiguration": {"bakeTimeInMinutes": 5},
            }
            if status.startswith("ROLLBACK"):
                described["statusReason"] = "lifecycle hook failed"
            ecs.add_response(
                "describe_service_deployments",
                {"serviceDeployments": [described]},
                {"serviceDeploymentArns": [DEPLOYMENT]},
            )

    def verdict(self, verdict: str, failed: list[str]) -> None:
        checks = [{"name": name, "ok": False, "detail": 'HTTP 500: {"status": "error"}'} for name in failed]
        line = {"event": "release check", "verdict": verdict, "failed": failed, "checks": checks, "target": REVISION}
        self.stubs["logs"].add_response(
            "filter_log_events",
            {"events": [{"message": json.dumps(line)}]},
            {
                "logGroupName": LOG_GROUP,
                "filterPattern": '{ $.event = "release check" }',
                "startTime": int(CREATED.timestamp() * 1000),
            },
        )


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> BlueGreenClients:
    from cli.cloud import blue_green
    from cli.verify import aws

    made = BlueGreenClients()
    sent: list[str] = []
    made.made["ssm"].meta.events.register(
        "provide-client-params.ssm.PutParameter", lambda params, **_: sent.append(params["Value"])
    )
    made.sent = sent
    monkeypatch.setattr(aws, "client_factory", lambda region: made)
    monkeypatch.setattr(blue_green, "POLL_SECONDS", 0.0)
    return made


def _earlier() -> list[releases.Release]:
    return [
        releases.new_release(
            [], image="sha256:aaa", task_definition="gw-dev-api:7", settings="s", outcome=releases.PROMOTED
        )
    ]


def _script_image_update(fake) -> None:
    fake.script("preview", events=events.image_update("dev", planning=True))
    fake.script("up", events=events.image_update("dev", planning=False), result=BLUE_GREEN_OUTPUTS)


def test_up_follows_the_deployment_and_records_a_promoted_release(infra, fake, clients):
    _script_image_update(fake)
    clients.history(_earlier())
    clients.shape()
    clients.migration(['{"level": "info", "event": "schema migrated"}'], exit_code=0)
    clients.deployment(
        TASK_DEF,
        [("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT"), ("IN_PROGRESS", "BAKE_TIME"), ("SUCCESSFUL", "CLEAN_UP")],
    )
    clients.verdict("SUCCEEDED", [])
    clients.record(_earlier())
    result = infra("up", "--stack", "dev", "--yes", code=0)
    clients.done()
    assert "deployment in progress: POST_TEST_TRAFFIC_SHIFT" in result.stderr
    assert "release check: passed" in result.stderr
    assert "released r2" in result.stderr
    stored = json.loads(clients.sent[-1])
    assert [(r["id"], r["outcome"]) for r in stored] == [("r1", "promoted"), ("r2", "promoted")]


def test_up_exits_non_zero_when_the_check_failed_and_ecs_rolled_back(infra, fake, clients):
    _script_image_update(fake)
    clients.history(_earlier())
    clients.shape()
    clients.migration(['{"level": "info", "event": "schema migrated"}'], exit_code=0)
    clients.deployment(
        TASK_DEF,
        [("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT"), ("ROLLBACK_IN_PROGRESS", ""), ("ROLLBACK_SUCCESSFUL", "")],
    )
    clients.verdict("FAILED", ["heartbeat"])
    clients.record(_earlier())
    doc = infra.json("up", "--stack", "dev", "--yes", code=1)
    clients.done()
    message = doc["error"]["message"]
    assert "release r2 was not promoted" in message
    assert "ROLLBACK_SUCCESSFUL" in message
    assert "heartbeat: HTTP 500" in message, "the failing check and what it saw"
    assert doc["release"]["outcome"] == "failed before traffic"
    assert doc["release"]["failed_checks"] == ["heartbeat"]
    assert doc["release"]["deployment"]["check"]["status"] == "FAILED"
    stored = json.loads(clients.sent[-1])
    assert stored[-1]["outcome"] == "failed before traffic"
    assert stored[-1]["failed_checks"] == ["heartbeat"]


def test_a_release_that_passed_its_check_and_was_rolled_back_in_its_bake_time_is_rolled_back(infra, fake, clients):
    _script_image_update(fake)
    clients.history(_earlier())
    clients.shape()
    clients.migration([], exit_code=0)
    clients.deployment(TASK_DEF, [("IN_PROGRESS", "BAKE_TIME"), ("ROLLBACK_SUCCESSFUL", "")])
    clients.verdict("SUCCEEDED", [])
    clients.record(_earlier())
    doc = infra.json("up", "--stack", "dev", "--yes", code=1)
    clients.done()
    assert doc["release"]["outcome"] == "rolled back"
    assert json.loads(clients.sent[-1])[-1]["outcome"] == "rolled back"


def _two_promoted() -> list[releases.Release]:
    first = _earlier()
    second = releases.new_release(
        first, image=IMAGE, task_definition="gw-dev-api:8", settings="s", outcome=releases.PROMOTED
    )
    return [*first, second]


def _expect_rollback(clients: BlueGreenClients, history: list[releases.Release]) -> None:
    clients.history(history)
    clients.stubs["ecs"].add_response(
        "update_service",
        {"service": {"serviceName": SERVICE, "taskDefinition": OLD_TASK_DEF}},
        {"cluster": CLUSTER, "service": SERVICE, "taskDefinition": "gw-dev-api:7"},
    )


def test_rollback_deploys_the_previous_promoted_release_and_marks_the_replaced_one(infra, fake, clients):
    fake.script("outputs", result=BLUE_GREEN_OUTPUTS)
    history = _two_promoted()
    _expect_rollback(clients, history)
    clients.deployment(OLD_TASK_DEF, [("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT"), ("SUCCESSFUL", "")])
    clients.verdict("SUCCEEDED", [])
    clients.record(history)
    after = [*history, releases.new_release(history, image="sha256:aaa", task_definition="gw-dev-api:7",
                                            settings="s", outcome=releases.PROMOTED, rollback_of="r1")]  # fmt: skip
    clients.record(after)
    doc = infra.json("rollback", "--stack", "dev", "--yes")
    clients.done()
    assert doc["rolled_back"] == "r2"
    assert doc["release"]["rollback_of"] == "r1"
    assert doc["release"]["task_definition"] == "gw-dev-api:7"
    assert doc["release"]["outcome"] == "promoted"
    stored = json.loads(clients.sent[-1])
    assert [(r["id"], r["outcome"]) for r in stored] == [("r1", "promoted"), ("r2", "rolled back"), ("r3", "promoted")]


def test_rollback_asks_first_and_a_script_without_yes_changes_nothing(infra, fake, clients):
    fake.script("outputs", result=BLUE_GREEN_OUTPUTS)
    clients.history(_two_promoted())
    doc = infra.json("rollback", "--stack", "dev", code=2)
    clients.done()
    assert "confirmation needed" in doc["error"]["message"]
    assert "--yes" in doc["error"]["hint"]
    assert not clients.sent, "nothing is recorded"


def test_rollback_to_a_release_that_never_served_is_refused(infra, fake, clients):
    fake.script("outputs", result=BLUE_GREEN_OUTPUTS)
    failed = releases.new_release(
        _two_promoted(), image="x", task_definition="gw-dev-api:9", settings="s", outcome=releases.FAILED_BEFORE_TRAFFIC
    )
    clients.history([*_two_promoted(), failed])
    doc = infra.json("rollback", "--stack", "dev", "--to", "r3", "--yes", code=2)
    clients.done()
    assert "was never promoted" in doc["error"]["message"]


def test_rollback_on_a_local_stack_that_was_never_up_says_so(infra):
    doc = infra.json("rollback", "--stack", "local", "--yes", code=2)
    assert doc["ok"] is False
    assert "the local stack does not exist" in doc["error"]["message"]
