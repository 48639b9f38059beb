"""Controls 44-46 on small programs: a database alone fails them, a database with the Backup component passes."""

from __future__ import annotations

import functools
import importlib
import types
from collections.abc import Iterator
from typing import Any

import pulumi_aws as aws
import pytest

from cli.plan.document import plan_document
from cli.plan.policy.evaluate import evaluate
from cli.plan.policy.loader import load_controls
from cli.plan.policy.model import REGISTRY
from cli.plan.recorder import run as run_recorded
from infra.backup import Backup, BackupArgs
from stacks.settings import PROJECT_DIR

IDS = ("44", "45", "46")


@pytest.fixture(scope="module", autouse=True)
def backup_controls() -> Iterator[types.ModuleType]:
    """The backup module reloaded for these tests, the registry as it was afterwards: every built-in control is
    loaded first, so a test that runs later (the generated control table) still finds 44-46 in their place."""
    load_controls()
    before = dict(REGISTRY)
    module = importlib.reload(importlib.import_module("cli.plan.policy.controls.backup"))
    yield module
    REGISTRY.clear()
    REGISTRY.update(before)


def _database() -> aws.rds.Instance:
    # A bare instance: the resource the controls are about.
    return aws.rds.Instance(
        "db", identifier="groundwork-test-db", engine="postgres", instance_class="db.t4g.small", storage_encrypted=True
    )


@functools.cache
def _plan(stack: str, backup: tuple[tuple[str, Any], ...] | None) -> dict[str, Any]:
    """The plan of a database, with the Backup component built from `backup` (None: without it)."""

    def build(_: Any) -> dict[str, Any]:
        instance = _database()
        if backup is not None:
            args = dict(
                database_arn=instance.arn,
                bucket_arns=["arn:aws:s3:::groundwork-test-app"],
                region="eu-west-1",
                account_id="123456789012",
            )
            Backup("backup", BackupArgs(**{**args, **dict(backup)}))
        return {}

    settings = types.SimpleNamespace(stack=stack, region="eu-west-1")
    return plan_document(run_recorded(settings, build), PROJECT_DIR)


PROD_BACKUP = (("copy_region", "eu-central-1"), ("retention_days", 35))


def _findings(plan: dict[str, Any], control_id: str) -> list:
    controls = [REGISTRY[i] for i in IDS]
    (result,) = [r for r in evaluate(plan, controls).results if r.control.id == control_id]
    return result.findings


def test_the_controls_are_registered_with_sources_and_levels(backup_controls: types.ModuleType) -> None:
    assert backup_controls.MIN_PROD_RETENTION_DAYS == 30
    for control_id in IDS:
        control = REGISTRY[control_id]
        assert control.module == backup_controls.__name__
        assert control.sources
        assert control.level == "P"


@pytest.mark.parametrize("control_id", IDS)
def test_a_prod_database_with_the_component_passes(control_id: str) -> None:
    assert _findings(_plan("prod", PROD_BACKUP), control_id) == []


@pytest.mark.parametrize("control_id", IDS)
def test_a_prod_database_without_backups_fails(control_id: str) -> None:
    findings = _findings(_plan("prod", None), control_id)
    assert [f.severity for f in findings] == ["error"], findings
    assert findings[0].urn.endswith("aws:rds/instance:Instance::db")


def test_a_dev_database_without_backups_is_a_warning_and_copies_are_not_asked() -> None:
    assert [f.severity for f in _findings(_plan("dev", None), "44")] == ["warning"]
    assert _findings(_plan("dev", ()), "44") == []
    assert _findings(_plan("dev", ()), "45") == []
    assert _findings(_plan("dev", (("retention_days", 7),)), "46") == []


def test_prod_without_a_copy_to_another_region_fails_44_only() -> None:
    plan = _plan("prod", (("retention_days", 35),))
    assert _findings(plan, "44") == []
    assert "another region" in _findings(plan, "45")[0].message
    assert _findings(plan, "46") == []


@pytest.mark.parametrize(
    ("backup", "what"),
    [
        (
            (("copy_region", "eu-central-1"), ("retention_days", 14), ("copy_retention_days", 40)),
            "recovery points 14 days",
        ),
        ((("copy_region", "eu-central-1"), ("retention_days", 35), ("copy_retention_days", 7)), "copies 7 days"),
    ],
)
def test_prod_keeping_points_or_copies_too_briefly_fails_45(backup: tuple, what: str) -> None:
    findings = _findings(_plan("prod", backup), "46")
    assert len(findings) == 1, findings
    assert what in findings[0].message
    assert findings[0].urn.endswith("aws:backup/plan:Plan::backup-plan")
    assert findings[0].severity == "error"


def test_a_selection_of_another_database_does_not_count() -> None:
    def build(_: Any) -> dict[str, Any]:
        _database()
        Backup(
            "backup",
            BackupArgs(
                database_arn="arn:aws:rds:eu-west-1:123456789012:db:some-other-db",
                bucket_arns=["arn:aws:s3:::b"],
                region="eu-west-1",
                account_id="123456789012",
                copy_region="eu-central-1",
            ),
        )
        return {}

    plan = plan_document(run_recorded(types.SimpleNamespace(stack="prod", region="eu-west-1"), build), PROJECT_DIR)
    assert len(_findings(plan, "44")) == 1


def test_a_selection_by_the_instance_arn_as_text_counts() -> None:
    def build(_: Any) -> dict[str, Any]:
        _database()
        Backup(
            "backup",
            BackupArgs(
                database_arn="arn:aws:rds:eu-west-1:123456789012:db:groundwork-test-db",
                bucket_arns=["arn:aws:s3:::b"],
                region="eu-west-1",
                account_id="123456789012",
                copy_region="eu-central-1",
            ),
        )
        return {}

    plan = plan_document(run_recorded(types.SimpleNamespace(stack="prod", region="eu-west-1"), build), PROJECT_DIR)
    assert all(_findings(plan, i) == [] for i in IDS)
