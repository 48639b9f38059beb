"""Secret rotation checks with moto; a secret not yet rotated with a Stubber (moto always sets LastRotatedDate)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from cli.verify import secrets
from cli.verify.model import Status
from stacks import outputs as out
from tests.cli.verify import stack as healthy
from tests.cli.verify.conftest import find, find_in, not_passing

PENDING_WORDS = (
    "a version is labelled AWSPENDING but not AWSCURRENT: a rotation is in progress or failed "
    "(see the rotation function's log)"
)


def _client():
    return boto3.client("secretsmanager", region_name=healthy.REGION)


def test_the_secret_rotates_on_time_on_the_healthy_stack(verify):
    checks = [c for c in verify().checks if c.family == "secrets"]
    assert [(c.resource, c.name, c.status) for c in checks] == [
        (healthy.DATABASE_SECRET, name, Status.PASS) for name in ("rotates", "rotation on time", "no rotation stuck")
    ]
    rotates = find_in(checks, "rotates", healthy.DATABASE_SECRET)
    assert rotates.observed == "rotated every 30 days by Lambda function gw-dev-dbrotate-app-fn"
    assert rotates.expected == "rotated by a Lambda function every 30 days or less (secretRotationDays)"
    on_time = find_in(checks, "rotation on time", healthy.DATABASE_SECRET)
    assert (on_time.observed, on_time.expected) == (
        "last rotated 0 days ago",
        "rotated within 31 days (every 30 days plus 1 day of grace)",
    )
    assert find_in(checks, "no rotation stuck", healthy.DATABASE_SECRET).observed == "no pending version"


def test_rotation_disabled_fails(verify, cloud):
    _client().cancel_rotate_secret(SecretId=cloud.database_secret)
    report = verify()
    check = find(report, "secrets", "rotates", healthy.DATABASE_SECRET)
    assert (check.status, check.observed) == (Status.FAIL, "rotation disabled: the value never changes")
    assert not_passing(report) == [("fail", "secrets", "rotates", "rotation disabled: the value never changes")]


@pytest.mark.parametrize(
    ("days", "status", "observed"),
    [
        (120, Status.FAIL, "rotated every 120 days by Lambda function gw-dev-dbrotate-app-fn: more than 90"),
        (60, Status.WARN, "rotated every 60 days by Lambda function gw-dev-dbrotate-app-fn"),
    ],
    ids=["120-days-fails", "60-days-warns"],
)
def test_an_interval_longer_than_the_settings(verify, cloud, days, status, observed):
    healthy.schedule_rotation(cloud.database_secret, days)
    report = verify()
    check = find(report, "secrets", "rotates", healthy.DATABASE_SECRET)
    assert (check.status, check.observed) == (status, observed)
    assert check.expected == "rotated by a Lambda function every 30 days or less (secretRotationDays)"
    assert [(f, n) for _, f, n, _ in not_passing(report)] == [("secrets", "rotates")]


def test_the_interval_is_compared_with_the_stacks_setting(verify, target):
    settings = dataclasses.replace(target.settings, secret_rotation_days=14)
    check = find(verify(settings=settings), "secrets", "rotates", healthy.DATABASE_SECRET)
    assert check.status is Status.WARN
    assert check.expected == "rotated by a Lambda function every 14 days or less (secretRotationDays)"


def test_an_overdue_rotation_fails(verify):
    """moto dates the last rotation when rotation is set up and cannot move it, so the run's clock moves instead."""
    report = verify(now=datetime.now(UTC) + timedelta(days=40))
    check = find(report, "secrets", "rotation on time", healthy.DATABASE_SECRET)
    assert (check.status, check.observed) == (Status.FAIL, "rotation overdue: last rotated 40 days ago")
    assert check.expected == "rotated within 31 days (every 30 days plus 1 day of grace)"


def test_a_rotation_a_day_late_is_still_on_time(verify):
    """The run's clock moves, as above, to half a day past the interval."""
    report = verify(now=datetime.now(UTC) + timedelta(days=30, hours=12))
    check = find(report, "secrets", "rotation on time", healthy.DATABASE_SECRET)
    assert (check.status, check.observed) == (Status.PASS, "last rotated 30 days ago")


def _describe(stubber, arn, name, created):
    stubber.add_response(
        "describe_secret",
        {
            "ARN": arn,
            "Name": name,
            "RotationEnabled": True,
            "RotationLambdaARN": f"arn:aws:lambda:eu-west-1:123456789012:function:{name}-rotation",
            "RotationRules": {"AutomaticallyAfterDays": 30},
            "CreatedDate": created,
            "VersionIdsToStages": {"0" * 32: ["AWSCURRENT"]},
        },
        {"SecretId": arn},
    )


@pytest.mark.parametrize(
    ("age", "status", "observed"),
    [
        (timedelta(days=3, hours=1), Status.PASS, "created 3 days ago, never rotated"),
        (timedelta(days=40, hours=1), Status.FAIL, "rotation overdue: created 40 days ago, never rotated"),
    ],
    ids=["new", "old"],
)
def test_a_secret_never_rotated_is_judged_by_its_creation_date(stubbed, age, status, observed):
    """AWS sets no LastRotatedDate before the first scheduled rotation (RotateImmediately=False), but moto sets one
    when rotation is set up, so DescribeSecret is stubbed: a new secret passes, an old one never rotated fails."""
    db_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gw-dev-pool-database-url-Aa1"

    def script(stubber):
        _describe(stubber, db_arn, healthy.DATABASE_SECRET, datetime.now(UTC) - age)

    checks = secrets.verify(stubbed({out.DATABASE_SECRET_ARN: db_arn}, secretsmanager=script))
    check = find_in(checks, "rotation on time", healthy.DATABASE_SECRET)
    assert (check.status, check.observed) == (status, observed)


def test_a_pending_version_that_is_not_current_warns(verify, cloud):
    _client().put_secret_value(
        SecretId=cloud.database_secret,
        SecretString=json.dumps({"password": "half-rotated"}),
        VersionStages=["AWSPENDING"],
    )
    report = verify()
    check = find(report, "secrets", "no rotation stuck", healthy.DATABASE_SECRET)
    assert (check.status, check.observed) == (Status.WARN, PENDING_WORDS)
    assert check.expected == "no version labelled AWSPENDING unless it is AWSCURRENT"
    assert report.ok


def test_an_absent_output_fails_that_secret(verify):
    report = verify(outputs={out.DATABASE_SECRET_ARN: None})
    check = find(report, "secrets", "identify")
    assert (check.status, check.observed) == (Status.FAIL, "the stack has no output 'database_secret_arn'")


def test_a_deleted_secret_fails(verify, cloud):
    _client().delete_secret(SecretId=cloud.database_secret, ForceDeleteWithoutRecovery=True)
    check = find(verify(), "secrets", "exists")
    assert (check.status, check.resource) == (Status.FAIL, out.DATABASE_SECRET_ARN)
    assert check.observed == "Secrets Manager has no secret at the ARN in output 'database_secret_arn'"


def test_no_secret_value_or_arn_is_read_or_reported(verify, cloud, monkeypatch):
    from botocore.client import BaseClient

    calls: list[str] = []
    real = BaseClient._make_api_call

    def record(self, operation, params):
        calls.append(operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    _client().put_secret_value(
        SecretId=cloud.database_secret, SecretString="moto-stuck-key", VersionStages=["AWSPENDING"]
    )
    text = json.dumps(verify().to_json())
    assert "DescribeSecret" in calls
    assert not {"GetSecretValue", "BatchGetSecretValue"} & set(calls)
    for value in [*healthy.SECRET_VALUES.values(), "moto-stuck-key", cloud.database_secret]:
        assert value not in text
    assert "moto-" not in text
