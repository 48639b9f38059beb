"""Controls 44-46: an AWS Backup plan covers the database, copies it to another region and keeps it long enough."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cli.core import resource_types
from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView, as_list, inputs

_INSTANCE = resource_types.RDS_INSTANCE
_PLAN = resource_types.BACKUP_PLAN
_SELECTION = resource_types.BACKUP_SELECTION
_VAULT = resource_types.BACKUP_VAULT
MIN_PROD_RETENTION_DAYS = 30
"""Fewest days a production recovery point (and its copy) must be kept."""


def _covers(view: PlanView, selection: dict[str, Any], instance: dict[str, Any]) -> bool:
    """Whether a selection names the instance: by a reference to it, or by an ARN ending in its identifier."""
    if instance["urn"] in selection.get("property_dependencies", {}).get("resources", []):
        return True
    identifier = inputs(instance).get("identifier")
    return bool(identifier) and any(
        isinstance(arn, str) and arn.endswith(f":db:{identifier}")
        for arn in as_list(inputs(selection).get("resources"))
    )


def _plans_of(view: PlanView, selection: dict[str, Any]) -> list[dict[str, Any]]:
    urns = selection.get("property_dependencies", {}).get("planId", [])
    return [
        p for p in view.of(_PLAN) if p["urn"] in urns or (p.get("id") and inputs(selection).get("planId") == p["id"])
    ]


def _scheduled_rules(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for rule in as_list(inputs(plan).get("rules")) if isinstance(rule, dict) and rule.get("schedule")]


def database_plans(view: PlanView) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each database instance with the backup plans (those with a scheduled rule) whose selections cover it."""
    for instance in view.of(_INSTANCE):
        plans = [
            plan
            for selection in view.of(_SELECTION)
            if _covers(view, selection, instance)
            for plan in _plans_of(view, selection)
            if _scheduled_rules(plan)
        ]
        yield instance, plans


@control("44", "An AWS Backup plan covers the database", sources=("RDS.26", "CKV2_AWS_8"), level="P")
def backup_plan(view: PlanView) -> Iterator[Violation]:
    for instance, plans in database_plans(view):
        if not plans:
            yield Violation(instance["urn"], "no AWS Backup selection with a scheduled plan covers this database")


def _other_region(view: PlanView, plan: dict[str, Any], action: dict[str, Any]) -> bool:
    """Whether a copy action's destination is a vault declared in, or an ARN of, a region other than the stack's."""
    home = view.plan.get("region")
    arn = action.get("destinationVaultArn")
    if isinstance(arn, str) and arn.startswith("arn:") and arn.split(":")[3] not in ("", home):
        return True
    vaults = view.referenced(plan, "rules", _VAULT)
    return any(inputs(v).get("region") not in (None, home) for v in vaults)


@control("45", "Backups are copied to a second region in prod", sources=("AWS Backup best practices",), level="P")
def cross_region_copy(view: PlanView) -> Iterator[Violation]:
    if not view.production:
        return
    for instance, plans in database_plans(view):
        copied = any(
            _other_region(view, plan, action)
            for plan in plans
            for rule in _scheduled_rules(plan)
            for action in as_list(rule.get("copyActions"))
            if isinstance(action, dict)
        )
        if not copied:
            yield Violation(instance["urn"], "no backup plan of this database copies it to another region")


@control(
    "46",
    f"Backups kept at least {MIN_PROD_RETENTION_DAYS} days in prod",
    sources=("CIS AWS Foundations", "AWS Backup best practices"),
    level="P",
)
def backup_retention_days(view: PlanView) -> Iterator[Violation]:
    if not view.production:
        return
    for instance, plans in database_plans(view):
        if not plans:
            yield Violation(instance["urn"], "no backup plan, so no retention of recovery points")
        for plan in plans:
            for rule in _scheduled_rules(plan):
                lifecycles = [("recovery points", rule.get("lifecycle"))]
                lifecycles += [("copies", a.get("lifecycle")) for a in as_list(rule.get("copyActions"))]
                for what, lifecycle in lifecycles:
                    days = (lifecycle or {}).get("deleteAfter")  # none: kept until deleted by hand
                    if days is not None and days < MIN_PROD_RETENTION_DAYS:
                        yield Violation(
                            plan["urn"],
                            f"rule {rule.get('ruleName')!r} keeps {what} {days} days, "
                            f"at least {MIN_PROD_RETENTION_DAYS} needed",
                        )
