"""Control 43: a production stack's stateful resources are protected (the stack's `protect` setting)."""

from __future__ import annotations

from collections.abc import Iterator

from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView

STATEFUL = (
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:route53/zone:Zone",
    "aws:dynamodb/table:Table",
    "aws:elasticache/replicationGroup:ReplicationGroup",
)
"""Resource types whose deletion loses data that cannot be made again; the program protects them when
`groundwork:protect` is true. Secrets are left out: signing keys are regenerated, credentials rotated."""


@control("43", "Stateful resources protected in prod", sources=("groundwork:protect",), level="P")
def stack_protected(view: PlanView) -> Iterator[Violation]:
    for token in STATEFUL:
        for resource in view.of(token):
            if not resource["options"].get("protect"):
                yield Violation(
                    resource["urn"], "not protected: a destroy or replacement deletes its data (groundwork:protect)"
                )
