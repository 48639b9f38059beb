"""Controls 50-52: the cache is encrypted, signs clients in, and survives a zone's loss in prod."""

from __future__ import annotations

from collections.abc import Iterator

from cli.core import resource_types
from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView, inputs

_GROUP = resource_types.ELASTICACHE_REPLICATION_GROUP
_CLUSTER = resource_types.ELASTICACHE_CLUSTER


@control(
    "50",
    "Cache encrypted in transit and at rest",
    sources=("ElastiCache.4", "ElastiCache.5", "CKV_AWS_29", "CKV_AWS_30"),
    level="E",
)
def cache_encryption(view: PlanView) -> Iterator[Violation]:
    for group in view.of(_GROUP):
        args = inputs(group)
        if args.get("transitEncryptionEnabled") is not True:
            yield Violation(group["urn"], "transitEncryptionEnabled is not true (traffic in clear text)")
        elif args.get("transitEncryptionMode") == "preferred":
            yield Violation(group["urn"], "transitEncryptionMode is preferred (clients may still connect in clear)")
        if args.get("atRestEncryptionEnabled") is not True:
            yield Violation(group["urn"], "atRestEncryptionEnabled is not true")
    for cluster in view.of(_CLUSTER):
        if not inputs(cluster).get("replicationGroupId"):
            yield Violation(cluster["urn"], "a stand-alone cache cluster cannot encrypt; use a replication group")


@control("51", "Cache requires authentication", sources=("ElastiCache.6", "CKV_AWS_31"), level="E")
def cache_authentication(view: PlanView) -> Iterator[Violation]:
    for group in view.of(_GROUP):
        args = inputs(group)
        if not args.get("userGroupIds") and not args.get("authToken"):
            yield Violation(group["urn"], "no user group and no AUTH token: anyone who reaches the port is in")


@control(
    "52",
    "Cache fails over across zones and keeps snapshots in prod",
    sources=("ElastiCache.1", "ElastiCache.3"),
    level="P",
)
def cache_resilience(view: PlanView) -> Iterator[Violation]:
    for group in view.of(_GROUP):
        args = inputs(group)
        if not (args.get("automaticFailoverEnabled") and args.get("multiAzEnabled")):
            yield Violation(group["urn"], "no multi-AZ automatic failover (the cache goes with its zone)")
        if (args.get("numCacheClusters") or 1) < 2:
            yield Violation(group["urn"], "no replica to fail over to")
        if not args.get("snapshotRetentionLimit"):
            yield Violation(group["urn"], "snapshotRetentionLimit is 0 (no daily snapshots)")
