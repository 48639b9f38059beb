"""Following an ECS blue/green deployment to its end, and the release check's verdict from its log group."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cli.core import releases
from cli.core.errors import OperationFailed

POLL_SECONDS = 15.0
FIND_WAIT_SECONDS = 120.0
"""How long ECS may take to list a deployment the apply or the update has started."""
WAIT_SECONDS = 45 * 60.0
"""How long a deployment may take to end, its bake time added: green's start, the check waiting for the
migration (15 minutes at most), traffic shifts."""
SUCCESSFUL = "SUCCESSFUL"
ROLLED_BACK = ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED")
CHECK_EVENT = "release check"
"""The `event` of the check's one JSON log line per invocation (infra/lambdas/release_check.py)."""


@dataclass(frozen=True)
class Verdict:
    """The release check's last answer about a deployment's target: SUCCEEDED, FAILED or IN_PROGRESS."""

    status: str
    failed: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    """`name: detail` of each failed check."""

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "failed": self.failed, "details": self.details}


@dataclass(frozen=True)
class DeploymentEnd:
    """How ECS ended a deployment, and the check's verdict about it (None when it never ran or logged nothing)."""

    arn: str
    status: str
    reason: str
    verdict: Verdict | None = None

    @property
    def promoted(self) -> bool:
        return self.status == SUCCESSFUL

    def to_json(self) -> dict[str, Any]:
        return {
            "deployment": self.arn,
            "status": self.status,
            "reason": self.reason,
            "check": self.verdict.to_json() if self.verdict else None,
        }


def find_deployment(
    ecs: Any,
    *,
    cluster: str,
    service: str,
    task_definition: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """The newest deployment of the service whose target runs this task definition (its ServiceDeployment)."""
    deadline = clock() + FIND_WAIT_SECONDS
    while True:
        briefs = ecs.list_service_deployments(cluster=cluster, service=service, maxResults=10).get(
            "serviceDeployments", []
        )
        briefs = sorted(briefs, key=lambda b: b.get("createdAt") or datetime.min, reverse=True)
        targets = [b["targetServiceRevisionArn"] for b in briefs if b.get("targetServiceRevisionArn")]
        revisions = (
            ecs.describe_service_revisions(serviceRevisionArns=targets).get("serviceRevisions", []) if targets else []
        )
        running = {r["serviceRevisionArn"] for r in revisions if r.get("taskDefinition") == task_definition}
        chosen = next((b for b in briefs if b.get("targetServiceRevisionArn") in running), None)
        if chosen is not None:
            return chosen
        if clock() > deadline:
            raise OperationFailed(
                f"ECS lists no deployment of {service} to {task_definition.rsplit('/', 1)[-1]}",
                hint="see the service's deployments in the ECS console",
            )
        sleep(POLL_SECONDS)


def follow(
    ecs: Any,
    deployment_arn: str,
    *,
    on_stage: Callable[[str, str], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll the deployment until ECS ends it (promoted, rolled back or stopped), for at most WAIT_SECONDS and its
    bake time; each new status or stage is handed to `on_stage`. Returns the ServiceDeployment ECS last described."""
    started, deadline, seen = clock(), None, None
    while True:
        found = ecs.describe_service_deployments(serviceDeploymentArns=[deployment_arn]).get("serviceDeployments", [])
        if not found:
            raise OperationFailed(f"ECS does not describe the deployment {deployment_arn}")
        deployment = found[0]
        if deadline is None:
            bake = int((deployment.get("deploymentConfiguration") or {}).get("bakeTimeInMinutes") or 0)
            deadline = started + WAIT_SECONDS + bake * 60
        status, stage = deployment.get("status", ""), deployment.get("lifecycleStage", "")
        if (status, stage) != seen:
            seen = (status, stage)
            on_stage(status, stage)
        if status == SUCCESSFUL or status in ROLLED_BACK:
            return deployment
        if clock() > deadline:
            raise OperationFailed(
                f"the deployment {deployment_arn.rsplit('/', 1)[-1]} is still {status} ({stage}) after "
                f"{(clock() - started) / 60:.0f} minutes",
                hint="ECS goes on without this command: see the deployment in the ECS console, then "
                "`infra releases` once it has ended",
            )
        sleep(POLL_SECONDS)


def check_verdict(logs: Any, log_group: str, *, target: str, since: datetime | None) -> Verdict | None:
    """The check's last logged answer about this target revision, from its log group."""
    request: dict[str, Any] = {"logGroupName": log_group, "filterPattern": f'{{ $.event = "{CHECK_EVENT}" }}'}
    if since is not None:
        request["startTime"] = int(since.timestamp() * 1000)
    last = None
    while True:
        try:
            page = logs.filter_log_events(**request)
        except logs.exceptions.ResourceNotFoundException:
            return None
        for event in page.get("events", []):
            try:
                line = json.loads(event.get("message", ""))
            except ValueError:
                continue
            if isinstance(line, dict) and line.get("target") in (target, "", None):
                last = line
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    if last is None:
        return None
    failed = [str(name) for name in last.get("failed") or []]
    details = [
        f"{check.get('name')}: {check.get('detail')}"
        for check in last.get("checks") or []
        if isinstance(check, dict) and not check.get("ok")
    ]
    return Verdict(str(last.get("verdict", "")), failed, details)


def follow_release(
    ecs: Any,
    logs: Any,
    *,
    cluster: str,
    service: str,
    task_definition: str,
    log_group: str | None,
    on_stage: Callable[[str, str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> DeploymentEnd:
    """The deployment of this task definition followed to its end, with the check's verdict about it."""
    brief = find_deployment(ecs, cluster=cluster, service=service, task_definition=task_definition, sleep=sleep)
    deployment = follow(ecs, brief["serviceDeploymentArn"], on_stage=on_stage, sleep=sleep)
    target = (deployment.get("targetServiceRevision") or {}).get("arn") or brief.get("targetServiceRevisionArn", "")
    verdict = None
    if log_group:
        since = deployment.get("createdAt") or brief.get("createdAt")
        verdict = check_verdict(logs, log_group, target=target, since=since)
    reason = deployment.get("statusReason") or (deployment.get("rollback") or {}).get("reason") or ""
    return DeploymentEnd(deployment["serviceDeploymentArn"], deployment.get("status", ""), reason, verdict)


def outcome_of(end: DeploymentEnd) -> tuple[str, list[str]]:
    """The release history's outcome of a deployment and the checks it failed: promoted; failed before traffic
    when the check failed it (or green never reached the check); rolled back when it had passed and ECS still
    rolled back (the circuit breaker during the bake time)."""
    if end.promoted:
        return releases.PROMOTED, []
    if end.verdict is not None and end.verdict.status == "SUCCEEDED":
        return releases.ROLLED_BACK, []
    if end.verdict is not None and end.verdict.failed:
        return releases.FAILED_BEFORE_TRAFFIC, list(end.verdict.failed)
    return releases.FAILED_BEFORE_TRAFFIC, ["deployment"]


def describe_end(end: DeploymentEnd) -> str:
    """One line for the console and the error: what ECS did and, when it failed, what the check found."""
    text = f"ECS ended the deployment {end.status}" + (f" ({end.reason})" if end.reason else "")
    if end.verdict is not None and end.verdict.details:
        text += "; the release check failed: " + "; ".join(end.verdict.details)
    return text
