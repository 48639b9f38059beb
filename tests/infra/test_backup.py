"""The Backup component under the strict mocks: rules, encryption, the copy to a second region, selection, alarms."""

from __future__ import annotations

import functools
import json
import re
import types
from typing import Any

import pytest

from cli.plan.recorder import Recording
from cli.plan.recorder import run as run_recorded
from infra.backup import DAILY, SERVICE_POLICIES, Backup, BackupArgs
from tests.mocks import recorded

DB_ARN = "arn:aws:rds:eu-west-1:123456789012:db:groundwork-prod-db"
BUCKET_ARN = "arn:aws:s3:::groundwork-prod-app"

VAULT = "aws:backup/vault:Vault"
PLAN = "aws:backup/plan:Plan"
KEY = "aws:kms/key:Key"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _args(**overrides: Any) -> BackupArgs:
    base: dict[str, Any] = dict(
        database_arn=DB_ARN,
        bucket_arns=[BUCKET_ARN],
        region="eu-west-1",
        account_id="123456789012",
    )
    return BackupArgs(**{**base, **overrides})


@functools.cache
def _record(**overrides: Any) -> Recording:
    settings = types.SimpleNamespace(stack="test", region="eu-west-1")

    def build(_: Any) -> dict[str, Any]:
        Backup("bk", _args(**overrides))
        return {}

    return run_recorded(settings, build)


def _prod() -> Recording:
    return _record(copy_region="eu-central-1", vault_lock=True, vault_lock_changeable_days=3, retention_days=35)


def test_the_plan_backs_up_daily_and_keeps_points_for_the_retention() -> None:
    plan = _record(retention_days=14).one(PLAN)
    (rule,) = plan["rules"]
    assert rule["schedule"] == DAILY, plan.urn
    assert re.fullmatch(r"cron\(0 \d+ \* \* \? \*\)", rule["schedule"]), f"{plan.urn}: not daily"
    assert rule["lifecycle"]["deleteAfter"] == 14, plan.urn
    assert rule.get("enableContinuousBackup") is False, f"{plan.urn}: PITR belongs to the database's retention"
    assert rule["completionWindow"] > rule["startWindow"], plan.urn


def test_vaults_are_encrypted_with_keys_of_their_own_that_rotate() -> None:
    rec = _prod()
    keys = {k.state["arn"]: k for k in rec.of_type(KEY)}
    assert len(rec.of_type(VAULT)) == 2
    for vault in rec.of_type(VAULT):
        key = keys.get(vault["kmsKeyArn"])
        assert key is not None, f"{vault.urn} is not encrypted with a key of the component"
        assert key["enableKeyRotation"] is True, key.urn
        assert key.get("region") == vault.get("region"), f"{vault.urn}: key and vault in different regions"
        assert vault["forceDestroy"] is False, f"{vault.urn} could be deleted with its recovery points"
        assert vault.protect, f"{vault.urn} is not protected"
        assert key.protect, f"{key.urn} is not protected"


def test_prod_copies_every_recovery_point_to_a_vault_in_the_second_region() -> None:
    rec = _prod()
    plan = rec.one(PLAN)
    copy_vault = rec.one(VAULT, "-copy-vault")
    assert copy_vault["region"] == "eu-central-1", copy_vault.urn
    (action,) = plan["rules"][0]["copyActions"]
    assert action["destinationVaultArn"] == copy_vault.state["arn"], plan.urn
    assert ":eu-central-1:" in action["destinationVaultArn"], plan.urn
    assert action["lifecycle"]["deleteAfter"] == 35, plan.urn
    assert rec.by_name("bk-vault").get("region") is None, "the main vault lives in the stack's region"


def test_without_a_copy_region_nothing_is_copied() -> None:
    rec = _record()
    plan = rec.one(PLAN)
    assert not plan["rules"][0].get("copyActions"), plan.urn
    assert len(rec.of_type(VAULT)) == 1
    assert not rec.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")


def test_the_vault_lock_keeps_points_for_at_least_the_retention() -> None:
    rec = _prod()
    lock = rec.one("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    assert lock["backupVaultName"] == rec.by_name("bk-vault").state["name"], lock.urn
    assert lock["minRetentionDays"] == 35, lock.urn
    assert lock["changeableForDays"] == 3, lock.urn


def test_the_selection_covers_the_database_and_the_bucket_with_a_backup_only_role() -> None:
    rec = _record()
    selection = rec.one("aws:backup/selection:Selection")
    assert selection["resources"] == [DB_ARN, BUCKET_ARN], selection.urn
    assert not selection.get("selectionTags"), f"{selection.urn}: a tag could widen the selection"
    assert selection["planId"] == rec.one(PLAN).id, selection.urn
    role = rec.one("aws:iam/role:Role")
    assert selection["iamRoleArn"] == role.state["arn"], selection.urn
    trust = json.loads(role["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "backup.amazonaws.com"}], role.urn
    attached = sorted(a["policyArn"] for a in rec.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"))
    assert attached == sorted(SERVICE_POLICIES), role.urn
    assert not role.get("inlinePolicies"), role.urn


def test_failed_backup_and_copy_jobs_raise_alarms_that_notify() -> None:
    rec = recorded("prod")
    vault_name = rec.one(VAULT, "-backup-vault").state["name"]
    topic = rec.one("aws:sns/topic:Topic").state["arn"]
    alarms = {a["metricName"]: a for a in rec.of_type(ALARM) if a.get("namespace") == "AWS/Backup"}
    assert set(alarms) == {"NumberOfBackupJobsFailed", "NumberOfCopyJobsFailed"}
    for alarm in alarms.values():
        assert alarm["dimensions"] == {"BackupVaultName": vault_name}, alarm.urn
        assert alarm["threshold"] == 0, alarm.urn
        assert alarm["comparisonOperator"] == "GreaterThanThreshold", alarm.urn
        assert alarm["alarmActions"] == [topic], alarm.urn
        assert alarm["actionsEnabled"] is True, alarm.urn
    dev = recorded("dev")
    assert [a["metricName"] for a in dev.of_type(ALARM) if a.get("namespace") == "AWS/Backup"] == [
        "NumberOfBackupJobsFailed"
    ]


def test_an_unprotected_backup_can_be_torn_down() -> None:
    rec = _record(protect=False)
    vault = rec.one(VAULT)
    assert vault["forceDestroy"] is True, vault.urn
    assert not vault.protect, vault.urn


INVALID = [
    ("retention_days", dict(retention_days=0), "1 to 36500"),
    ("schedule", dict(schedule="rate(1 day)"), "cron"),
    ("bucket_arns", dict(bucket_arns=[]), "one or more"),
    ("copy_region", dict(copy_region="eu-west-1"), "other than eu-west-1"),
    ("copy_region", dict(copy_region="Mars"), "AWS region"),
    ("copy_retention_days", dict(copy_retention_days=7), "without copy_region"),
    ("vault_lock_changeable_days", dict(vault_lock=True, vault_lock_changeable_days=1), "3 or more"),
    ("vault_lock_changeable_days", dict(vault_lock_changeable_days=5), "without vault_lock"),
]


@pytest.mark.parametrize(
    ("field", "overrides", "allowed"), INVALID, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(INVALID)]
)
def test_bad_arguments_name_the_field_the_value_and_what_is_allowed(
    field: str, overrides: dict[str, Any], allowed: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{field}=.* is not allowed; allowed: .*{re.escape(allowed)}"):
        Backup("bk", _args(**overrides))
