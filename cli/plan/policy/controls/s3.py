"""Controls 14-19: S3 buckets and the resources that guard them."""

from __future__ import annotations

from collections.abc import Iterator

from cli.core import resource_types
from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView, as_list, inputs, statements

_BUCKET = resource_types.S3_BUCKET
_PAB = resource_types.S3_BUCKET_PUBLIC_ACCESS_BLOCK
_SSE = resource_types.S3_BUCKET_SERVER_SIDE_ENCRYPTION_CONFIGURATION
_POLICY = resource_types.S3_BUCKET_POLICY
_VERSIONING = resource_types.S3_BUCKET_VERSIONING
_LOGGING = resource_types.S3_BUCKET_LOGGING
_OWNERSHIP = resource_types.S3_BUCKET_OWNERSHIP_CONTROLS
_ACL = resource_types.S3_BUCKET_ACL
_PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


@control("14", "Public access blocked on every bucket", sources=("S3.8", "CKV_AWS_53-56", "CKV2_AWS_6"), level="E")
def public_access_block(view: PlanView) -> Iterator[Violation]:
    for bucket in view.of(_BUCKET):
        blocks = view.attached(_PAB, "bucket", bucket)
        if not any(all(inputs(b).get(flag) is True for flag in _FLAGS) for b in blocks):
            yield Violation(bucket["urn"], "no BucketPublicAccessBlock with all four flags true")


@control("15", "Default encryption on every bucket", sources=("CKV_AWS_19", "AVD-AWS-0088"), level="E")
def encryption(view: PlanView) -> Iterator[Violation]:
    for bucket in view.of(_BUCKET):
        algorithms = [
            (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
            for config in view.attached(_SSE, "bucket", bucket)
            for rule in inputs(config).get("rules") or []
        ]
        if not algorithms or not all(a in ("aws:kms", "aws:kms:dsse", "AES256") for a in algorithms):
            yield Violation(bucket["urn"], "no server-side encryption configuration with aws:kms or AES256")


@control("16", "Buckets deny plain HTTP and allow no one", sources=("S3.5", "CKV_AWS_70"), level="E")
def secure_transport(view: PlanView) -> Iterator[Violation]:
    for bucket in view.of(_BUCKET):
        found = [s for p in view.attached(_POLICY, "bucket", bucket) for s in statements(inputs(p).get("policy"))]
        if not any(_denies_plain_http(s) for s in found):
            yield Violation(bucket["urn"], "no bucket policy denying aws:SecureTransport=false")
        if any(s.get("Effect") == "Allow" and _everyone(s.get("Principal")) for s in found):
            yield Violation(bucket["urn"], "bucket policy allows Principal *")


def _denies_plain_http(statement: dict) -> bool:
    condition = (statement.get("Condition") or {}).get("Bool") or {}
    return statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")).lower() == "false"


def _everyone(principal: object) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))


@control("17", "Versioning enabled", sources=("CKV_AWS_21", "AVD-AWS-0090"), level="P")
def versioning(view: PlanView) -> Iterator[Violation]:
    for bucket in view.of(_BUCKET):
        configs = view.attached(_VERSIONING, "bucket", bucket)
        if not any((inputs(v).get("versioningConfiguration") or {}).get("status") == "Enabled" for v in configs):
            yield Violation(bucket["urn"], "no BucketVersioning with status Enabled")


@control("18", "Server access logging to a log bucket", sources=("S3.9", "CKV_AWS_18"), level="A")
def access_logging(view: PlanView) -> Iterator[Violation]:
    targets = {inputs(entry).get("targetBucket") for entry in view.of(_LOGGING)}
    for bucket in view.of(_BUCKET):
        if bucket.get("id") in targets:
            continue
        if not view.attached(_LOGGING, "bucket", bucket):
            yield Violation(bucket["urn"], "no BucketLogging (and it is not itself a log bucket)")


@control("19", "No public ACL, owner enforced, kept in prod", sources=("S3.2", "S3.3", "S3.12"), level="E")
def ownership(view: PlanView) -> Iterator[Violation]:
    for bucket in view.of(_BUCKET):
        acls = [inputs(bucket).get("acl")] + [inputs(a).get("acl") for a in view.attached(_ACL, "bucket", bucket)]
        if any(acl in _PUBLIC_ACLS for acl in acls):
            yield Violation(bucket["urn"], "public canned ACL")
        rules = [inputs(o).get("rule") or {} for o in view.attached(_OWNERSHIP, "bucket", bucket)]
        if not any(rule.get("objectOwnership") == "BucketOwnerEnforced" for rule in rules):
            yield Violation(bucket["urn"], "no BucketOwnershipControls with BucketOwnerEnforced")
        if view.production and inputs(bucket).get("forceDestroy") is True:
            yield Violation(bucket["urn"], "forceDestroy is true on a production stack")
