"""Pulumi ComponentResources, one per concern, that declare a backend's foundation on AWS."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from infra.limits import LOG_RETENTION_DAYS

PROJECT = "groundwork"
"""Prefix of every component's type token: `groundwork:<module>:<Type>`."""


def type_token(module: str, name: str) -> str:
    """The type token of the component `name` declared in `infra/<module>.py`."""
    return f"{PROJECT}:{module}:{name}"


def invalid(field: str, value: Any, allowed: str) -> ValueError:
    """A ValueError naming the argument field, its bad value and what is allowed."""
    return ValueError(f"{field}={value!r} is not allowed; allowed: {allowed}")


def require(condition: bool, field: str, value: Any, allowed: str) -> None:
    """Raises `invalid(...)` unless the condition holds."""
    if not condition:
        raise invalid(field, value, allowed)


def require_log_retention(days: int) -> None:
    """Raises `invalid(...)` unless CloudWatch Logs accepts `days` as a retention period."""
    require(days in LOG_RETENTION_DAYS, "log_retention_days", days, ", ".join(map(str, LOG_RETENTION_DAYS)))


def policy_document(statements: Iterable[dict[str, Any]]) -> str:
    """An IAM policy document as JSON text."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def assume_role_policy(service: str) -> str:
    """A trust policy that lets only the given AWS service principal assume the role."""
    return policy_document([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])


KEY_ADMINISTRATION = (
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
)
"""What the account may do to administer a customer key (not use it)."""


def key_policy(account_id: str, uses: Iterable[dict[str, Any]]) -> str:
    """A KMS key policy: the account administers the key; only the given statements may use it."""
    administration = {
        "Sid": "KeyAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": list(KEY_ADMINISTRATION),
        "Resource": "*",
    }
    return policy_document([administration, *uses])


def service_key_use(account_id: str, service: str, region: str) -> dict[str, Any]:
    """Lets principals of the account use the key only through one AWS service in one region (grants included)."""
    return {
        "Sid": "UseThrough" + service.title().replace("-", ""),
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:CreateGrant",
            "kms:DescribeKey",
        ],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com", "kms:CallerAccount": account_id}
        },
    }
