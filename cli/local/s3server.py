"""moto's server for the local stack (its buckets and user pools), evaluating bucket policies as a TLS-only endpoint."""

from __future__ import annotations

import json
import sys
from typing import Any

SECURE_CONTEXT = {"aws:securetransport": "true"}
"""Every request reaches this server over TLS (it listens with the local CA's certificate only)."""


_NEGATED = ("StringNotEquals", "StringNotEqualsIgnoreCase")


def _values(expected: Any) -> list[str]:
    return [str(v).lower() for v in (expected if isinstance(expected, list) else [expected])]


def conditions_met(conditions: dict[str, dict[str, Any]]) -> bool:
    """AWS's reading of a Condition block for the keys this endpoint knows; a key it does not know is absent,
    and a condition on an absent key is not met (as in AWS, for every operator but the ...IfExists ones)."""
    for operator, pairs in conditions.items():
        for key, expected in pairs.items():
            actual = SECURE_CONTEXT.get(key.lower())
            if actual is None:
                return operator.endswith("IfExists")
            if operator.removesuffix("IfExists") in ("Bool", "StringEquals", "StringEqualsIgnoreCase"):
                if actual not in _values(expected):
                    return False
            elif operator.removesuffix("IfExists") in _NEGATED and actual in _values(expected):
                return False
    return True


def patch_moto() -> None:
    """moto evaluates a bucket policy without the request's context, ignores the Bool operator and turns an unmet
    condition into a denial, so a Deny on `aws:SecureTransport: false` would deny every request: evaluate each
    statement's condition as AWS does, then let moto match the rest of the statement."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.s3 import models

    def get_permission(self: models.FakeBucket, action: str, resource: str) -> PermissionResult:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        statements = json.loads(self.policy)["Statement"]
        result = PermissionResult.NEUTRAL
        for statement in statements if isinstance(statements, list) else [statements]:
            if not conditions_met(statement.get("Condition") or {}):
                continue
            rest = {k: v for k, v in statement.items() if k != "Condition"}
            verdict = IAMPolicyStatement(rest).is_action_permitted(action, resource)
            if verdict == PermissionResult.DENIED:
                return verdict
            if verdict == PermissionResult.PERMITTED:
                result = verdict
        return result

    models.FakeBucket.get_permission = get_permission


def main(argv: list[str] | None = None) -> None:
    from cli.local.moto_identity import patch_ids, patch_resource_servers, patch_token_endpoint

    patch_moto()
    patch_ids()
    patch_resource_servers()
    patch_token_endpoint()
    from moto.server import main as serve

    serve(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
