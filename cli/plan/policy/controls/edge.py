"""Control 55: every internet-facing load balancer answers through a web ACL with a per-client rate rule."""

from __future__ import annotations

from collections.abc import Iterator

from cli.core import resource_types
from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView, inputs

_LB = resource_types.LB_LOAD_BALANCER
_ACL = resource_types.WAFV2_WEB_ACL
_ASSOCIATION = resource_types.WAFV2_WEB_ACL_ASSOCIATION


@control(
    "55",
    "Internet-facing load balancers behind a web ACL with a rate rule",
    sources=("WAF.2", "ELB.16", "CKV2_AWS_28"),
    level="P",
)
def load_balancer_firewall(view: PlanView) -> Iterator[Violation]:
    for lb in view.of(_LB):
        if inputs(lb).get("internal") is True:
            continue
        acls = [
            acl
            for link in view.attached(_ASSOCIATION, "resourceArn", lb)
            for acl in view.referenced(link, "webAclArn", _ACL)
        ]
        if not acls:
            yield Violation(lb["urn"], "internet-facing and not associated with a web ACL")
            continue
        for acl in acls:
            rules = inputs(acl).get("rules") or []
            limited = [
                r
                for r in rules
                if "rateBasedStatement" in (r.get("statement") or {}) and "block" in (r.get("action") or {})
            ]
            if not limited:
                yield Violation(acl["urn"], "no rate-based rule that blocks (one client can flood the service)")
