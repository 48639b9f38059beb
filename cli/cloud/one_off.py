"""A one-off ECS task with a service's task definition, network, roles and secrets: its logs streamed, its exit code."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cli.core.errors import ConfigError, OperationFailed

POLL_SECONDS = 3.0
MAX_WAIT_SECONDS = 3600.0
"""A task that has not stopped within this is stopped (a migration or a shell command, not a service)."""


@dataclass(frozen=True)
class TaskRun:
    """How a one-off task ended: its ARN, the container's exit code, and why ECS stopped it."""

    task_arn: str
    exit_code: int | None
    stopped_reason: str
    log_stream: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "task_arn": self.task_arn,
            "exit_code": self.exit_code,
            "stopped_reason": self.stopped_reason,
            "log_stream": self.log_stream,
        }


@dataclass(frozen=True)
class TaskShape:
    """What a task of the service runs with: its task definition, its container, its network, where it logs."""

    cluster: str
    task_definition: str
    container: str
    subnets: list[str]
    security_groups: list[str]
    log_group: str | None
    log_prefix: str | None
    image: str | None = None


class NoTaskNetwork(ConfigError):
    """The service names no subnets and security groups a one-off task could take."""


def service_shape(ecs: Any, *, cluster: str, service: str, task_definition: str | None = None) -> TaskShape:
    """The service's network (its private subnets and security groups, never a public IP) and task definition:
    the given revision (a release's new one) or the one the service runs now."""
    found = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
    if not found or found[0].get("status") != "ACTIVE":
        raise ConfigError(
            f"no active ECS service {service!r} in cluster {cluster!r}",
            hint="run `infra up` for this stack first; `infra outputs` names its cluster and service",
        )
    network = (found[0].get("networkConfiguration") or {}).get("awsvpcConfiguration")
    if not network:
        raise NoTaskNetwork(
            f"ECS service {service!r} has no awsvpc network configuration, so a one-off task has no subnets to run in",
            hint="Fargate services always have one: check the service in the ECS console",
        )
    definition = ecs.describe_task_definition(taskDefinition=task_definition or found[0]["taskDefinition"])
    containers = definition["taskDefinition"]["containerDefinitions"]
    essential = next((c for c in containers if c.get("essential", True)), containers[0])
    options = (essential.get("logConfiguration") or {}).get("options", {})
    return TaskShape(
        cluster=cluster,
        task_definition=definition["taskDefinition"]["taskDefinitionArn"],
        container=essential["name"],
        subnets=list(network["subnets"]),
        security_groups=list(network.get("securityGroups", [])),
        log_group=options.get("awslogs-group"),
        log_prefix=options.get("awslogs-stream-prefix"),
        image=essential.get("image"),
    )


def run_task(
    ecs: Any,
    logs: Any,
    shape: TaskShape,
    command: Sequence[str],
    *,
    on_line: Callable[[str], None],
    started_by: str = "infra-run",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TaskRun:
    """Start the task with the command as the container's, stream its log lines while it runs, and return how it
    ended; a task ECS could not place raises with ECS's reason."""
    started = ecs.run_task(
        cluster=shape.cluster,
        taskDefinition=shape.task_definition,
        launchType="FARGATE",
        count=1,
        startedBy=started_by[:36],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": shape.subnets,
                "securityGroups": shape.security_groups,
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={"containerOverrides": [{"name": shape.container, "command": list(command)}]},
    )
    if not started.get("tasks"):
        reasons = "; ".join(f"{f.get('arn', '')}: {f.get('reason', '')}" for f in started.get("failures", []))
        raise OperationFailed(f"ECS did not start the task ({reasons or 'no reason given'})")
    task_arn = started["tasks"][0]["taskArn"]
    stream = None
    if shape.log_group and shape.log_prefix:
        stream = f"{shape.log_prefix}/{shape.container}/{task_arn.rsplit('/', 1)[-1]}"
    token: str | None = None
    deadline = clock() + MAX_WAIT_SECONDS
    while True:
        task = ecs.describe_tasks(cluster=shape.cluster, tasks=[task_arn])["tasks"][0]
        token = _stream(logs, shape.log_group, stream, token, on_line)
        if task.get("lastStatus") == "STOPPED":
            _stream(logs, shape.log_group, stream, token, on_line)  # what was written as it stopped
            container = next((c for c in task.get("containers", []) if c.get("name") == shape.container), {})
            return TaskRun(task_arn, container.get("exitCode"), task.get("stoppedReason", ""), stream)
        if clock() > deadline:
            ecs.stop_task(cluster=shape.cluster, task=task_arn, reason="infra run: did not finish in time")
            raise OperationFailed(f"the task did not stop within {MAX_WAIT_SECONDS:g} s and was stopped: {task_arn}")
        sleep(POLL_SECONDS)


def _stream(logs: Any, group: str | None, stream: str | None, token: str | None, on_line: Callable[[str], None]):
    """Hand over the log events written since `token`; the stream does not exist until the container starts."""
    if not group or not stream:
        return token
    while True:
        request = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            request["nextToken"] = token
        try:
            page = logs.get_log_events(**request)
        except logs.exceptions.ResourceNotFoundException:
            return token
        for event in page.get("events", []):
            on_line(event["message"])
        following = page.get("nextForwardToken")
        if not following or following == token:
            return following or token
        token = following


def run_in_stack(
    stack: str,
    outputs: dict[str, Any],
    command: Sequence[str],
    *,
    service: str | None,
    on_line: Callable[[str], None],
    console: Any,
) -> dict[str, Any]:
    """`infra run` on a cloud stack: the API's (or the named worker's) task, started from this machine's creds."""
    from cli.verify.aws import client_factory
    from stacks import outputs as names

    cluster = outputs.get(names.CLUSTER_NAME)
    services = {k: outputs.get(k) for k in (names.SERVICE_NAME, names.WORKER_SERVICE_NAME) if outputs.get(k)}
    chosen = service or outputs.get(names.SERVICE_NAME)
    if not cluster or chosen not in services.values():
        raise ConfigError(
            f"stack {stack!r} has no ECS service {chosen!r}" if cluster else f"stack {stack!r} exports no cluster",
            hint=f"choose one of: {', '.join(map(str, services.values())) or '(none; run `infra up` first)'}",
        )
    client = client_factory(outputs.get(names.REGION) or "")
    shape = service_shape(client("ecs"), cluster=cluster, service=str(chosen))
    console.print(
        f"[bold]run[/] {' '.join(command)} as a task of {chosen} ({shape.task_definition.rsplit('/', 1)[-1]})"
    )
    result = run_task(client("ecs"), client("logs"), shape, command, on_line=on_line)
    console.print(
        f"task {result.task_arn.rsplit('/', 1)[-1]} stopped: exit {result.exit_code} ({result.stopped_reason})"
    )
    return {
        "ok": result.exit_code == 0,
        "stack": stack,
        "service": chosen,
        "command": list(command),
        **result.to_json(),
    }
