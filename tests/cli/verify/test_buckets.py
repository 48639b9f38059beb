"""Bucket checks with moto: a public bucket, versioning off, no TLS-only policy, encryption changed."""

from __future__ import annotations

import json

import boto3
import pytest

from cli.verify.model import Status
from stacks import outputs as out
from tests.cli.verify import stack as healthy
from tests.cli.verify.conftest import find, not_passing


def _s3():
    return boto3.client("s3", region_name=healthy.REGION)


def test_a_public_bucket_fails(verify):
    _s3().delete_public_access_block(Bucket=healthy.APP_BUCKET)
    report = verify()
    check = find(report, "buckets", "public access blocked", healthy.APP_BUCKET)
    assert check.status is Status.FAIL
    assert check.observed == "no public access block: the bucket may be public"
    assert [(c.family, c.name, c.resource) for c in report.failed] == [
        ("buckets", "public access blocked", healthy.APP_BUCKET)
    ]


def test_a_partly_open_bucket_names_the_settings_that_are_off(verify):
    _s3().put_public_access_block(
        Bucket=healthy.LOG_BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    check = find(verify(), "buckets", "public access blocked", healthy.LOG_BUCKET)
    assert (check.status, check.observed) == (Status.FAIL, "BlockPublicPolicy, RestrictPublicBuckets off")


def test_suspended_versioning_fails(verify):
    _s3().put_bucket_versioning(Bucket=healthy.APP_BUCKET, VersioningConfiguration={"Status": "Suspended"})
    check = find(verify(), "buckets", "versioning", healthy.APP_BUCKET)
    assert (check.status, check.observed) == (Status.FAIL, "versioning suspended")


def test_a_bucket_without_a_policy_fails_the_tls_check(verify):
    _s3().delete_bucket_policy(Bucket=healthy.LOG_BUCKET)
    check = find(verify(), "buckets", "TLS-only policy", healthy.LOG_BUCKET)
    assert (check.status, check.observed) == (Status.FAIL, "no bucket policy")


@pytest.mark.parametrize(
    "statement",
    [
        {"Sid": "ReadAll", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:*"},
        {
            "Sid": "ObjectsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": f"arn:aws:s3:::{healthy.APP_BUCKET}/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ],
    ids=["allow-only", "objects-only"],
)
def test_a_policy_that_does_not_deny_plain_http_fails(verify, statement):
    statement.setdefault("Resource", [f"arn:aws:s3:::{healthy.APP_BUCKET}", f"arn:aws:s3:::{healthy.APP_BUCKET}/*"])
    _s3().put_bucket_policy(
        Bucket=healthy.APP_BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    check = find(verify(), "buckets", "TLS-only policy", healthy.APP_BUCKET)
    assert (check.status, check.observed) == (Status.FAIL, "none of 1 statement(s) denies requests without TLS")


def test_no_default_encryption_fails(verify):
    _s3().delete_bucket_encryption(Bucket=healthy.LOG_BUCKET)
    check = find(verify(), "buckets", "encryption", healthy.LOG_BUCKET)
    assert (check.status, check.observed) == (Status.FAIL, "no default encryption")


def test_s3_managed_keys_on_the_application_bucket_only_warn(verify):
    _s3().put_bucket_encryption(
        Bucket=healthy.APP_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    report = verify()
    check = find(report, "buckets", "encryption", healthy.APP_BUCKET)
    assert (check.status, check.observed, check.expected) == (
        Status.WARN,
        "default encryption AES256",
        "default encryption aws:kms",
    )
    assert report.ok
    assert not_passing(report) == [("warn", "buckets", "encryption", "default encryption AES256")]


def test_a_missing_bucket_fails(verify):
    report = verify(outputs={out.APP_BUCKET: "gw-dev-store-app-gone"})
    check = find(report, "buckets", "exists", "gw-dev-store-app-gone")
    assert (check.status, check.observed) == (Status.FAIL, "no such bucket")
    assert find(report, "buckets", "versioning", healthy.LOG_BUCKET).status is Status.PASS
