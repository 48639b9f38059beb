"""Bucket checks: encryption, versioning, public access blocked, and a policy that denies requests without TLS."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from cli.verify import identify
from cli.verify.aws import is_not_found
from cli.verify.context import Context
from cli.verify.model import Check, Status, Unverifiable, judge

FAMILY = "buckets"
BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
"""The four settings of an S3 public access block; all must be on."""
EXPECTED_ALGORITHM = {"app": "aws:kms", "logs": "AES256"}
"""Declared default encryption: KMS for application data, S3-managed keys where log delivery requires them."""


def _read(call: Any, *missing_codes: str) -> dict[str, Any] | None:
    """An S3 configuration read, or None when the bucket has none."""
    try:
        return call()
    except ClientError as exc:
        if is_not_found(exc, *missing_codes):
            return None
        if is_not_found(exc, "NoSuchBucket"):
            raise Unverifiable("exists", "no such bucket", "the bucket exists") from exc
        raise


def check_encryption(bucket: str, role: str, config: dict[str, Any] | None) -> Check:
    """Default encryption is on, with the declared algorithm (another algorithm only warns)."""
    wanted = EXPECTED_ALGORITHM.get(role)
    expected = f"default encryption {wanted}" if wanted else "default encryption on"
    rules = (config or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    algorithms = [(r.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm") for r in rules]
    algorithms = [a for a in algorithms if a]
    if not algorithms:
        return judge(FAMILY, "encryption", False, "no default encryption", expected, bucket)
    observed = f"default encryption {', '.join(algorithms)}"
    return judge(FAMILY, "encryption", wanted is None or wanted in algorithms, observed, expected, bucket, warn=True)


def check_versioning(bucket: str, config: dict[str, Any]) -> Check:
    """Versioning is enabled."""
    state = config.get("Status")
    observed = f"versioning {state.lower()}" if state else "versioning never enabled"
    return judge(FAMILY, "versioning", state == "Enabled", observed, "versioning enabled", bucket)


def check_public_access(bucket: str, config: dict[str, Any] | None) -> Check:
    """All four public access block settings are on."""
    expected = "public access blocked (all four block settings on)"
    if config is None:
        return judge(
            FAMILY, "public access blocked", False, "no public access block: the bucket may be public", expected, bucket
        )
    flags = config.get("PublicAccessBlockConfiguration", {})
    off = [flag for flag in BLOCK_FLAGS if not flags.get(flag)]
    observed = f"{', '.join(off)} off" if off else "all four block settings on"
    return judge(FAMILY, "public access blocked", not off, observed, expected, bucket)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def denies_insecure_transport(statement: dict[str, Any], bucket: str) -> bool:
    """Whether a policy statement denies every S3 action on the bucket and its objects without TLS."""
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal != "*" and _as_list((principal or {}).get("AWS") if isinstance(principal, dict) else None) != ["*"]:
        return False
    if not {"s3:*", "*"} & set(_as_list(statement.get("Action", []))):
        return False
    arn = f"arn:aws:s3:::{bucket}"
    resources = set(_as_list(statement.get("Resource", [])))
    if not ("*" in resources or {arn, f"{arn}/*"} <= resources):
        return False
    condition = (statement.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
    return [str(v).lower() for v in _as_list(condition)] == ["false"]


def check_tls_only(bucket: str, policy: dict[str, Any] | None) -> Check:
    """The bucket policy denies any request made without TLS."""
    expected = "a policy statement denying s3:* on the bucket and its objects when aws:SecureTransport is false"
    if policy is None:
        return judge(FAMILY, "TLS-only policy", False, "no bucket policy", expected, bucket)
    try:
        document = json.loads(policy.get("Policy") or "{}")
    except ValueError:
        return judge(FAMILY, "TLS-only policy", False, "the bucket policy is not JSON", expected, bucket)
    statements = _as_list(document.get("Statement", []))
    ok = any(isinstance(s, dict) and denies_insecure_transport(s, bucket) for s in statements)
    observed = (
        "requests without TLS denied" if ok else f"none of {len(statements)} statement(s) denies requests without TLS"
    )
    return judge(FAMILY, "TLS-only policy", ok, observed, expected, bucket)


def bucket_checks(ctx: Context, role: str, bucket: str) -> list[Check]:
    """Every check of one bucket."""
    s3 = ctx.client("s3")
    try:
        encryption = _read(
            lambda: s3.get_bucket_encryption(Bucket=bucket), "ServerSideEncryptionConfigurationNotFoundError"
        )
        versioning = _read(lambda: s3.get_bucket_versioning(Bucket=bucket)) or {}
        block = _read(lambda: s3.get_public_access_block(Bucket=bucket), "NoSuchPublicAccessBlockConfiguration")
        policy = _read(lambda: s3.get_bucket_policy(Bucket=bucket), "NoSuchBucketPolicy")
    except Unverifiable as missing:
        return [Check(FAMILY, missing.name, Status.FAIL, missing.observed, missing.expected, bucket)]
    return [
        check_encryption(bucket, role, encryption),
        check_versioning(bucket, versioning),
        check_public_access(bucket, block),
        check_tls_only(bucket, policy),
    ]


def verify(ctx: Context) -> list[Check]:
    """Every bucket check, bucket by bucket."""
    return [check for role, bucket in identify.bucket_names(ctx) for check in bucket_checks(ctx, role, bucket)]
