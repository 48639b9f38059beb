"""Controls 62-67: customer-managed keys, each usable only through the service that encrypts with it, for secrets,
log groups, Performance Insights, the image repository and schedules; Lambda functions traced with X-Ray."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cli.core import resource_types
from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView, as_list, document, inputs, statements

_KEY = resource_types.KMS_KEY
_USE_ACTIONS = ("kms:encrypt", "kms:decrypt", "kms:reencrypt", "kms:generatedatakey", "kms:creategrant", "kms:*")
"""Prefixes of the actions that use a key (as opposed to administering it)."""


def _uses(statement: dict[str, Any]) -> bool:
    actions = [str(a).lower() for a in as_list(statement.get("Action"))]
    return statement.get("Effect") == "Allow" and any(a.startswith(_USE_ACTIONS) or a == "*" for a in actions)


def _only_through(statement: dict[str, Any], service: str) -> bool:
    """Whether a statement that uses the key is limited to one AWS service: its principal is that service (and, for
    CloudWatch Logs, the log groups' encryption context is conditioned), or kms:ViaService names it."""
    condition = statement.get("Condition") or {}
    principal = statement.get("Principal") or {}
    services = [str(s) for s in as_list(principal.get("Service") if isinstance(principal, dict) else None)]
    if services and all(s.startswith(f"{service}.") for s in services):
        if service != "logs":
            return True
        context = [v for test in condition.values() for k, v in test.items() if k.endswith("aws:logs:arn")]
        return bool(context)
    via = [v for test in condition.values() if isinstance(test, dict) for k, v in test.items() if k == "kms:ViaService"]
    return bool(via) and all(str(v).startswith(f"{service}.") for value in via for v in as_list(value))


def _key_problem(view: PlanView, resource: dict[str, Any], key_input: str, service: str) -> str | None:
    """Why the resource's key input is not a customer key of the plan usable only through `service`, or None."""
    keys = view.referenced(resource, key_input, _KEY)
    if not keys:
        return f"{key_input} names no customer-managed key of the stack (an AWS-managed or AWS-owned key)"
    for key in keys:
        policy = statements(document(key, "policy"))
        loose = [s.get("Sid", "a statement") for s in policy if _uses(s) and not _only_through(s, service)]
        name = key["urn"].rsplit("::", 1)[-1]
        if not policy:
            return f"its key {name} has no key policy (the account's default lets any of its principals use it)"
        if loose:
            return f"its key {name} lets {', '.join(loose)} use it other than through {service}"
    return None


def _keyed(view: PlanView, token: str, key_input: str, service: str) -> Iterator[Violation]:
    for resource in view.of(token):
        problem = _key_problem(view, resource, key_input, service)
        if problem:
            yield Violation(resource["urn"], problem)


@control(
    "62",
    "Secrets encrypted with a customer key used only by Secrets Manager",
    sources=("SecretsManager.3", "CKV_AWS_149"),
    level="P",
)
def secrets_customer_key(view: PlanView) -> Iterator[Violation]:
    yield from _keyed(view, resource_types.SECRETSMANAGER_SECRET, "kmsKeyId", "secretsmanager")


@control(
    "63", "Log groups encrypted with a customer key used only by CloudWatch Logs", sources=("CKV_AWS_158",), level="P"
)
def log_groups_customer_key(view: PlanView) -> Iterator[Violation]:
    yield from _keyed(view, resource_types.CLOUDWATCH_LOG_GROUP, "kmsKeyId", "logs")


@control(
    "64", "Performance Insights encrypted with a customer key used only by RDS", sources=("CKV_AWS_354",), level="P"
)
def performance_insights_customer_key(view: PlanView) -> Iterator[Violation]:
    for instance in view.of(resource_types.RDS_INSTANCE):
        if inputs(instance).get("performanceInsightsEnabled"):
            problem = _key_problem(view, instance, "performanceInsightsKmsKeyId", "rds")
            if problem:
                yield Violation(instance["urn"], problem)


@control(
    "65", "Image repository encrypted with a customer key used only by ECR", sources=("ECR.5", "CKV_AWS_136"), level="P"
)
def registry_customer_key(view: PlanView) -> Iterator[Violation]:
    for repository in view.of(resource_types.ECR_REPOSITORY):
        configuration = (inputs(repository).get("encryptionConfigurations") or [{}])[0]
        if configuration.get("encryptionType") != "KMS":
            yield Violation(repository["urn"], "encrypted with AES256 (an AWS-owned key), not a customer key")
            continue
        problem = _key_problem(view, repository, "encryptionConfigurations", "ecr")
        if problem:
            yield Violation(repository["urn"], problem)


@control(
    "66",
    "Schedules encrypted with a customer key used only by EventBridge Scheduler",
    sources=("EventBridge Scheduler docs",),
    level="P",
)
def schedules_customer_key(view: PlanView) -> Iterator[Violation]:
    yield from _keyed(view, resource_types.SCHEDULER_SCHEDULE, "kmsKeyArn", "scheduler")


@control("67", "Functions traced with X-Ray", sources=("Lambda.7", "CKV_AWS_50"), level="P")
def functions_traced(view: PlanView) -> Iterator[Violation]:
    for function in view.of(resource_types.LAMBDA_FUNCTION):
        if (inputs(function).get("tracingConfig") or {}).get("mode") != "Active":
            yield Violation(function["urn"], "tracingConfig.mode is not Active (a failed invocation leaves no trace)")
