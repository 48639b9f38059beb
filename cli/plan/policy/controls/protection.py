"""Control 43: a production stack's stateful resources are protected (the stack's `protect` setting)."""

from __future__ import annotations

from collections.abc import Iterator

from cli.core import resource_types
from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView

STATEFUL = (
    resource_types.RDS_INSTANCE,
    resource_types.RDS_CLUSTER,
    resource_types.S3_BUCKET,
    resource_types.S3_BUCKET_V2,
    resource_types.ROUTE53_ZONE,
    resource_types.DYNAMODB_TABLE,
    resource_types.ELASTICACHE_REPLICATION_GROUP,
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
