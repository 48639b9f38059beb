"""Controls 28-36: ECS service, task definition, cluster and ECR repository."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator

from cli.core import resource_types
from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView, document, inputs, statements
from infra.limits import holds_secret

_SERVICE = resource_types.ECS_SERVICE
_TASK = resource_types.ECS_TASK_DEFINITION
_CLUSTER = resource_types.ECS_CLUSTER
_REPO = resource_types.ECR_REPOSITORY
_LIFECYCLE = resource_types.ECR_LIFECYCLE_POLICY
_REPO_POLICY = resource_types.ECR_REPOSITORY_POLICY
PASSWORDLESS_URL_NAMES = frozenset({"DATABASE_URL"})
"""Names allowed in plain text when the value is a URL without a password (IAM sign-in)."""
SECRET_VALUE = re.compile(r"(AKIA[0-9A-Z]{16}|://[^/\s:@]+:[^/\s@]+@|-----BEGIN [A-Z ]*PRIVATE KEY)")
"""Values that look like an access key, a URL with a password, or a private key."""


def _containers(task: dict) -> list[dict]:
    found = document(task, "containerDefinitions")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


@control("28", "Service gets no public IP", sources=("ECS.2", "CKV_AWS_333"), level="E")
def no_public_ip(view: PlanView) -> Iterator[Violation]:
    for r in view.of(_SERVICE):
        if (inputs(r).get("networkConfiguration") or {}).get("assignPublicIp") is True:
            yield Violation(r["urn"], "networkConfiguration.assignPublicIp is true")


@control("29", "No privileged container", sources=("ECS.4", "CKV_AWS_334"), level="E")
def not_privileged(view: PlanView) -> Iterator[Violation]:
    for task in view.of(_TASK):
        for c in _containers(task):
            if c.get("privileged") is True:
                yield Violation(task["urn"], f"container {c.get('name')} is privileged")


@control("30", "Read-only root filesystem", sources=("ECS.5", "CKV_AWS_336"), level="P")
def read_only_root(view: PlanView) -> Iterator[Violation]:
    for task in view.of(_TASK):
        for c in _containers(task):
            if c.get("readonlyRootFilesystem") is not True:
                yield Violation(task["urn"], f"container {c.get('name')} has a writable root filesystem")


def _passwordless_url(name: str, value: str) -> bool:
    """A connection URL that carries no password, such as DATABASE_URL with IAM sign-in."""
    if name.upper() not in PASSWORDLESS_URL_NAMES:
        return False
    parts = urllib.parse.urlsplit(value)
    query = urllib.parse.parse_qs(parts.query)
    return bool(parts.scheme and parts.hostname) and parts.password is None and "password" not in query


@control("31", "No secrets in the environment", sources=("ECS.8", "AVD-AWS-0036"), level="E")
def no_secret_environment(view: PlanView) -> Iterator[Violation]:
    for task in view.of(_TASK):
        for c in _containers(task):
            for entry in c.get("environment") or []:
                name, value = str(entry.get("name", "")), str(entry.get("value", ""))
                if _passwordless_url(name, value):
                    continue
                if holds_secret(name) or SECRET_VALUE.search(value):
                    yield Violation(
                        task["urn"], f"container {c.get('name')}: {name} looks secret; use secrets[].valueFrom"
                    )


@control("32", "Container logs and separate roles", sources=("ECS.9", "CKV_AWS_249"), level="E")
def logs_and_roles(view: PlanView) -> Iterator[Violation]:
    for task in view.of(_TASK):
        for c in _containers(task):
            if not c.get("logConfiguration"):
                yield Violation(task["urn"], f"container {c.get('name')} has no logConfiguration")
        execution, role = inputs(task).get("executionRoleArn"), inputs(task).get("taskRoleArn")
        if execution and execution == role:
            yield Violation(task["urn"], "execution role and task role are the same")


@control("33", "Latest platform, Container Insights", sources=("ECS.10", "ECS.12"), level="A")
def platform(view: PlanView) -> Iterator[Violation]:
    for r in view.of(_SERVICE):
        if inputs(r).get("platformVersion") not in (None, "LATEST"):
            yield Violation(r["urn"], f"platformVersion pinned to {inputs(r).get('platformVersion')}")
    for cluster in view.of(_CLUSTER):
        settings = {s.get("name"): s.get("value") for s in inputs(cluster).get("settings") or []}
        if settings.get("containerInsights") not in ("enabled", "enhanced"):
            yield Violation(cluster["urn"], "containerInsights is not enabled")


@control(
    "34",
    "Safe deployments: rollback on failure; rolling waits for steady state, blue/green has a test rule and a hook",
    sources=("Copilot service defaults", "ECS blue/green deployments"),
    level="E",
)
def safe_deployments(view: PlanView) -> Iterator[Violation]:
    for r in view.of(_SERVICE):
        args = inputs(r)
        breaker = args.get("deploymentCircuitBreaker") or {}
        if breaker.get("enable") is not True or breaker.get("rollback") is not True:
            yield Violation(r["urn"], "deployment circuit breaker with rollback is not on")
        deployment = args.get("deploymentConfiguration") or {}
        if deployment.get("strategy") == "BLUE_GREEN":
            # `infra up` follows a blue/green deployment to its end; what gates it is the check before production.
            yield from _gated_blue_green(r["urn"], args, deployment)
        elif args.get("waitForSteadyState") is not True:
            yield Violation(r["urn"], "waitForSteadyState is not true")
        if args.get("loadBalancers") and not args.get("healthCheckGracePeriodSeconds"):
            yield Violation(r["urn"], "healthCheckGracePeriodSeconds is not set")


def _gated_blue_green(urn: str, args: dict, deployment: dict) -> Iterator[Violation]:
    """A blue/green service tests green through a test listener rule and a lifecycle hook before production moves."""
    hooks = deployment.get("lifecycleHooks") or []
    if not any(h.get("hookTargetArn") and h.get("lifecycleStages") for h in hooks):
        yield Violation(urn, "blue/green deployment without a lifecycle hook: nothing checks green before production")
    advanced = [(lb.get("advancedConfiguration") or {}) for lb in args.get("loadBalancers") or []]
    if not any(a.get("testListenerRule") and a.get("alternateTargetGroupArn") for a in advanced):
        yield Violation(urn, "blue/green deployment without a test listener rule and an alternate target group")


@control("35", "Images scanned, tags immutable in prod", sources=("ECR.1", "ECR.2"), level="E/P")
def image_scanning(view: PlanView) -> Iterator[Violation]:
    for repo in view.of(_REPO):
        if (inputs(repo).get("imageScanningConfiguration") or {}).get("scanOnPush") is not True:
            yield Violation(repo["urn"], "scanOnPush is not true", level="E")
        if inputs(repo).get("imageTagMutability") != "IMMUTABLE":
            yield Violation(repo["urn"], "imageTagMutability is not IMMUTABLE", level="P")


@control("36", "Lifecycle policy, no public repository", sources=("ECR.3", "CKV_AWS_32"), level="A/E")
def repository_hygiene(view: PlanView) -> Iterator[Violation]:
    for repo in view.of(_REPO):
        if not view.attached(_LIFECYCLE, "repository", repo):
            yield Violation(repo["urn"], "no ecr.LifecyclePolicy", level="A")
        for policy in view.attached(_REPO_POLICY, "repository", repo):
            if any(
                s.get("Effect") == "Allow" and s.get("Principal") in ("*", {"AWS": "*"})
                for s in statements(inputs(policy).get("policy"))
            ):
                yield Violation(repo["urn"], "repository policy allows Principal *", level="E")
