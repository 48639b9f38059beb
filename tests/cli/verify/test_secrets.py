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


def test_both_secrets_rotate_on_time_on_the_healthy_stack(verify):
    checks = [c for c in verify().checks if c.family == "secrets"]
    assert [(c.resource, c.name, c.status) for c in checks] == [
        (secret, name, Status.PASS)
        for secret in (healthy.DATABASE_SECRET, healthy.JWT_SECRET)
        for name in ("rotates", "rotation on time", "no rotation stuck")
    ]
    rotates = find_in(checks, "rotates", healthy.JWT_SECRET)
    assert rotates.observed == "rotated every 30 days by Lambda function gw-dev-jwtrotate-fn"
    assert rotates.expected == "rotated by a Lambda function every 30 days or less (secretRotationDays)"
    on_time = find_in(checks, "rotation on time", healthy.DATABASE_SECRET)
    assert (on_time.observed, on_time.expected) == (
        "last rotated 0 days ago",
        "rotated within 31 days (every 30 days plus 1 day of grace)",
    )
    assert find_in(checks, "no rotation stuck", healthy.JWT_SECRET).observed == "no pending version"


def test_rotation_disabled_fails(verify, cloud):
    _client().cancel_rotate_secret(SecretId=cloud.database_secret)
    report = verify()
    check = find(report, "secrets", "rotates", healthy.DATABASE_SECRET)
    assert (check.status, check.observed) == (Status.FAIL, "rotation disabled: the value never changes")
    assert not_passing(report) == [("fail", "secrets", "rotates", "rotation disabled: the value never changes")]


@pytest.mark.parametrize(
    ("days", "status", "observed"),
    [
        (120, Status.FAIL, "rotated every 120 days by Lambda function gw-dev-jwtrotate-fn: more than 90"),
        (60, Status.WARN, "rotated every 60 days by Lambda function gw-dev-jwtrotate-fn"),
    ],
    ids=["120-days-fails", "60-days-warns"],
)
def test_an_interval_longer_than_the_settings(verify, cloud, days, status, observed):
    healthy.schedule_rotation(cloud.jwt_secret, days)
    report = verify()
    check = find(report, "secrets", "rotates", healthy.JWT_SECRET)
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
    for secret in (healthy.DATABASE_SECRET, healthy.JWT_SECRET):
        check = find(report, "secrets", "rotation on time", secret)
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


def test_a_secret_never_rotated_is_judged_by_its_creation_date(stubbed):
    """AWS sets no LastRotatedDate before the first scheduled rotation (RotateImmediately=False), but moto sets one
    when rotation is set up, so DescribeSecret is stubbed: a new secret passes, an old one never rotated fails."""
    now = datetime.now(UTC)
    db_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gw-dev-pool-database-url-Aa1"
    jwt_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gw-dev-api-jwt-Bb2"

    def script(stubber):
        _describe(stubber, db_arn, healthy.DATABASE_SECRET, now - timedelta(days=3, hours=1))
        _describe(stubber, jwt_arn, healthy.JWT_SECRET, now - timedelta(days=40, hours=1))

    checks = secrets.verify(
        stubbed({out.DATABASE_SECRET_ARN: db_arn, out.JWT_SECRET_ARN: jwt_arn}, secretsmanager=script)
    )
    new = find_in(checks, "rotation on time", healthy.DATABASE_SECRET)
    assert (new.status, new.observed) == (Status.PASS, "created 3 days ago, never rotated")
    old = find_in(checks, "rotation on time", healthy.JWT_SECRET)
    assert (old.status, old.observed) == (Status.FAIL, "rotation overdue: created 40 days ago, never rotated")


def test_a_pending_version_that_is_not_current_warns(verify, cloud):
    _client().put_secret_value(
        SecretId=cloud.jwt_secret, SecretString=json.dumps({"current": "half-rotated"}), VersionStages=["AWSPENDING"]
    )
    report = verify()
    check = find(report, "secrets", "no rotation stuck", healthy.JWT_SECRET)
    assert (check.status, check.observed) == (Status.WARN, PENDING_WORDS)
    assert check.expected == "no version labelled AWSPENDING unless it is AWSCURRENT"
    assert report.ok


def test_an_absent_output_fails_that_secret_only(verify):
    report = verify(outputs={out.JWT_SECRET_ARN: None})
    check = find(report, "secrets", "identify")
    assert (check.status, check.observed) == (Status.FAIL, "the stack has no output 'jwt_secret_arn'")
    assert find(report, "secrets", "rotates", healthy.DATABASE_SECRET).status is Status.PASS


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
    _client().put_secret_value(SecretId=cloud.jwt_secret, SecretString="moto-stuck-key", VersionStages=["AWSPENDING"])
    text = json.dumps(verify().to_json())
    assert "DescribeSecret" in calls
    assert not {"GetSecretValue", "BatchGetSecretValue"} & set(calls)
    for value in [*healthy.SECRET_VALUES.values(), "moto-stuck-key", cloud.database_secret, cloud.jwt_secret]:
        assert value not in text
    assert "moto-" not in text
