"""Database checks against moto: each broken property is the one failure, in words."""

from __future__ import annotations

import dataclasses

import boto3
import pytest

from cli.verify.model import Status
from stacks import outputs as out
from tests.cli.verify import stack as healthy
from tests.cli.verify.conftest import find, not_passing


def _modify(**changes):
    boto3.client("rds", region_name=healthy.REGION).modify_db_instance(
        DBInstanceIdentifier=healthy.DB_ID, ApplyImmediately=True, **changes
    )


def test_a_public_database_fails(verify):
    _modify(PubliclyAccessible=True)
    report = verify()
    check = find(report, "database", "not public")
    assert check.status is Status.FAIL
    assert check.observed == "publicly accessible"
    assert [(s, f, n) for s, f, n, _ in not_passing(report)] == [("fail", "database", "not public")]


def test_an_unencrypted_database_fails(verify):
    healthy.create_database("gw-dev-db-plain", StorageEncrypted=False)
    report = verify(outputs={out.DATABASE_INSTANCE: "gw-dev-db-plain"})
    check = find(report, "database", "encrypted")
    assert (check.status, check.observed, check.resource) == (Status.FAIL, "storage not encrypted", "gw-dev-db-plain")


def test_backups_off_fail(verify):
    _modify(BackupRetentionPeriod=0)
    check = find(verify(), "database", "backups retained")
    assert check.status is Status.FAIL
    assert check.observed == "automated backups off (retention 0 days)"


def test_shorter_backups_than_the_settings_fail(verify, target):
    settings = dataclasses.replace(target.settings, db_backup_retention_days=7)
    check = find(verify(settings=settings), "database", "backups retained")
    assert check.status is Status.FAIL
    assert (check.observed, check.expected) == (
        "backups kept 1 day(s)",
        "backups kept at least 7 day(s) (dbBackupRetentionDays)",
    )


@pytest.mark.parametrize(
    ("setting", "check_name", "observed"),
    [
        ("db_multi_az", "multi-AZ", "single-AZ"),
        ("db_deletion_protection", "deletion protection", "deletion protection off"),
    ],
)
def test_settings_that_ask_for_protection_fail_when_it_is_off(verify, target, setting, check_name, observed):
    settings = dataclasses.replace(target.settings, **{setting: True})
    check = find(verify(settings=settings), "database", check_name)
    assert (check.status, check.observed) == (Status.FAIL, observed)
    assert "is true" in check.expected


def test_multi_az_and_deletion_protection_pass_when_on_and_asked_for(verify, target):
    _modify(MultiAZ=True, DeletionProtection=True)
    settings = dataclasses.replace(target.settings, db_multi_az=True, db_deletion_protection=True)
    report = verify(settings=settings)
    assert find(report, "database", "multi-AZ").status is Status.PASS
    assert find(report, "database", "deletion protection").observed == "deletion protection on"


def test_a_missing_database_is_one_failure_and_the_other_families_still_run(verify):
    report = verify(outputs={out.DATABASE_INSTANCE: "gw-dev-db-gone"})
    check = find(report, "database", "exists")
    assert check.observed == "RDS has no instance gw-dev-db-gone"
    assert [c for c in report.checks if c.family == "database"] == [check]
    assert find(report, "buckets", "versioning", healthy.APP_BUCKET).status is Status.PASS


def test_the_instance_is_derived_from_the_endpoint_when_its_output_is_absent(verify):
    report = verify(outputs={out.DATABASE_INSTANCE: None})
    assert find(report, "database", "available").resource == healthy.DB_ID
