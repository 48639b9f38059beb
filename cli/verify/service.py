"""ECS service checks: active, steady (running equals desired, deployment completed, no rollback), task as declared."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from cli.verify import identify
from cli.verify.context import Context
from cli.verify.model import Check, Status, judge
from stacks import outputs as out

FAMILY = "service"
ROLLBACK_WORDS = re.compile(r"rolling back|rolled back|rollback", re.IGNORECASE)
ROLLBACK_WINDOW = timedelta(minutes=10)
"""A rollback event this long before the primary deployment started belongs to that deployment."""


def _name(service: dict[str, Any]) -> str:
    return str(service.get("serviceName", "?"))


def primary_deployment(service: dict[str, Any]) -> dict[str, Any] | None:
    """The deployment ECS is converging to."""
    return next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), None)


def check_active(service: dict[str, Any]) -> Check:
    """The service exists and is ACTIVE (not draining or deleted)."""
    state = service.get("status", "unknown")
    return judge(FAMILY, "active", state == "ACTIVE", f"status {state}", "status ACTIVE", _name(service))


def check_running(service: dict[str, Any]) -> Check:
    """As many tasks run as are desired."""
    running, desired = int(service.get("runningCount", 0)), int(service.get("desiredCount", 0))
    pending = int(service.get("pendingCount", 0))
    observed = f"{running} of {desired} task(s) running" + (f", {pending} pending" if pending else "")
    expected = f"{desired} running (the desired count)" if desired else "at least one task desired"
    if desired == 0:
        return judge(FAMILY, "tasks running", False, "desired count is 0", expected, _name(service))
    if running > desired:
        return Check(
            FAMILY,
            "tasks running",
            Status.WARN,
            observed + " (a deployment is replacing tasks)",
            expected,
            _name(service),
        )
    return judge(FAMILY, "tasks running", running == desired, observed, expected, _name(service))


def check_deployment(service: dict[str, Any]) -> Check:
    """The latest deployment completed (in progress only warns; failed fails)."""
    primary = primary_deployment(service)
    expected = "the latest deployment COMPLETED"
    if primary is None:
        return judge(FAMILY, "deployment completed", False, "no primary deployment", expected, _name(service))
    state = primary.get("rolloutState", "UNKNOWN")
    observed = f"deployment {primary.get('id', '?')} {state}"
    if primary.get("rolloutStateReason"):
        observed += f": {primary['rolloutStateReason']}"
    others = len(service.get("deployments", [])) - 1
    if others and state == "COMPLETED":
        observed += f"; {others} older deployment(s) still draining"
    status = Status.PASS if state == "COMPLETED" else Status.WARN if state == "IN_PROGRESS" else Status.FAIL
    return Check(FAMILY, "deployment completed", status, observed, expected, _name(service))


def rollback_evidence(service: dict[str, Any]) -> str | None:
    """Why the service looks rolled back: a failed deployment, or a rollback event of the current deployment."""
    for deployment in service.get("deployments", []):
        if deployment.get("rolloutState") == "FAILED":
            reason = deployment.get("rolloutStateReason") or "no reason given"
            return f"deployment {deployment.get('id', '?')} failed: {reason}"
    primary = primary_deployment(service)
    started = (primary or {}).get("createdAt")
    for event in service.get("events", []):
        message = str(event.get("message", ""))
        when = event.get("createdAt")
        recent = started is None or when is None or when >= started - ROLLBACK_WINDOW
        if recent and ROLLBACK_WORDS.search(message):
            return message
    return None


def check_no_rollback(service: dict[str, Any]) -> Check:
    """The circuit breaker did not roll the latest deployment back."""
    evidence = rollback_evidence(service)
    return judge(
        FAMILY,
        "no rollback",
        evidence is None,
        f"rolled back: {evidence}" if evidence else "no failed or rolled-back deployment",
        "the latest deployment kept (no circuit-breaker rollback)",
        _name(service),
    )


def declared_task(ctx: Context) -> dict[str, Any]:
    """What the program declared for the task: its ARN when exported, CPU and memory, the image."""
    return {
        "arn": ctx.output(out.TASK_DEFINITION_ARN),
        "cpu": str(ctx.settings.service_cpu),
        "memory": str(ctx.settings.service_memory),
        "image": ctx.output(out.IMAGE_REF),
    }


def task_differences(task: dict[str, Any], declared: dict[str, Any]) -> list[str]:
    """How the running task definition differs from the declared one, in words."""
    differences = []
    if declared["arn"] and task.get("taskDefinitionArn") != declared["arn"]:
        differences.append(f"revision {task.get('revision')} runs, {declared['arn'].rsplit(':', 1)[-1]} declared")
    if str(task.get("cpu")) != declared["cpu"]:
        differences.append(f"{task.get('cpu')} CPU units, {declared['cpu']} declared (serviceCpu)")
    if str(task.get("memory")) != declared["memory"]:
        differences.append(f"{task.get('memory')} MiB, {declared['memory']} declared (serviceMemory)")
    images = [c.get("image") for c in task.get("containerDefinitions", [])]
    if declared["image"] and declared["image"] not in images:
        differences.append(f"image {', '.join(map(str, images))}, {declared['image']} declared")
    if task.get("status", "ACTIVE") != "ACTIVE":
        differences.append(f"the revision is {task.get('status')}")
    return differences


def check_task_definition(service: dict[str, Any], task: dict[str, Any], declared: dict[str, Any]) -> Check:
    """The service runs the task definition the program declared."""
    family = f"{task.get('family')}:{task.get('revision')}"
    expected = f"{declared['cpu']} CPU units, {declared['memory']} MiB"
    if declared["image"]:
        expected += f", image {declared['image']}"
    if declared["arn"]:
        expected = f"{declared['arn'].rsplit('/', 1)[-1]}: " + expected
    differences = task_differences(task, declared)
    observed = f"{family}: " + ("; ".join(differences) if differences else "as declared")
    return judge(FAMILY, "task definition", not differences, observed, expected, _name(service))


def verify(ctx: Context) -> list[Check]:
    """Every service check."""
    service = identify.service_description(ctx)
    task = ctx.client("ecs").describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    return [
        check_active(service),
        check_running(service),
        check_deployment(service),
        check_no_rollback(service),
        check_task_definition(service, task, declared_task(ctx)),
    ]
