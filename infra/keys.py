"""StackKeys: the customer-managed KMS keys of a protected stack, one per class of data, each usable by one service."""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import key_policy, service_key_use, type_token

TYPE = type_token("keys", "StackKeys")

KEY_USERS = {
    "secrets": "secretsmanager",
    "logs": "logs",
    "performance_insights": "rds",
    "registry": "ecr",
    "scheduler": "scheduler",
}
"""Each key of the stack and the one AWS service that may use it."""
SECRET_KEY_USE = ("kms:Decrypt", "kms:GenerateDataKey")
"""What a principal reading or writing a secret needs on the secrets key (through Secrets Manager only)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class KeyArns:
    """The customer keys components encrypt with; None leaves a class on its AWS-managed key."""

    secrets: pulumi.Input[str] | None = None
    """Secrets Manager secrets."""
    logs: pulumi.Input[str] | None = None
    """CloudWatch log groups."""
    performance_insights: pulumi.Input[str] | None = None
    """RDS Performance Insights."""
    registry: pulumi.Input[str] | None = None
    """The ECR repository."""
    scheduler: pulumi.Input[str] | None = None
    """EventBridge Scheduler schedules."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class StackKeysArgs:
    """Inputs of StackKeys."""

    account_id: pulumi.Input[str]
    """Account that administers the keys."""
    region: str
    """Region whose services may use them."""
    deletion_window_days: int = 30
    """Days a key scheduled for deletion can still be recovered."""


def logs_key_use(account_id: str, region: str) -> list[dict[str, Any]]:
    """CloudWatch Logs may use the key, only for log groups of this account and region (its encryption context),
    and read the key's description (which carries no context to condition on)."""
    logs = {"Service": f"logs.{region}.amazonaws.com"}
    return [
        {
            "Sid": "UseThroughLogs",
            "Effect": "Allow",
            "Principal": logs,
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:log-group:*"}
            },
        },
        {"Sid": "DescribeForLogs", "Effect": "Allow", "Principal": logs, "Action": "kms:DescribeKey", "Resource": "*"},
    ]


def _policy(account_id: str, region: str, service: str) -> str:
    uses = logs_key_use(account_id, region) if service == "logs" else [service_key_use(account_id, service, region)]
    return key_policy(account_id, uses)


class StackKeys(pulumi.ComponentResource):
    """One customer key per class of data (secrets, logs, Performance Insights, images, schedules), rotated yearly,
    each with a key policy letting exactly the service that encrypts with it use it."""

    def __init__(self, name: str, args: StackKeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not 7 <= args.deletion_window_days <= 30:
            raise ValueError(f"deletion_window_days={args.deletion_window_days!r} is not allowed; allowed: 7 to 30")
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        arns: dict[str, pulumi.Output[str]] = {}
        for purpose, service in KEY_USERS.items():
            # A key for this class of data alone: a policy mistake or a compromise of one class leaves the others.
            key = aws.kms.Key(
                f"{name}-{purpose.replace('_', '-')}",
                description=f"{name}: encrypts {purpose.replace('_', ' ')} (used through {service} only)",
                enable_key_rotation=True,
                deletion_window_in_days=args.deletion_window_days,
                policy=pulumi.Output.from_input(args.account_id).apply(
                    lambda account, service=service: _policy(account, args.region, service)
                ),
                opts=child,
            )
            arns[purpose] = key.arn
        self.arns = KeyArns(**arns)
        self.register_outputs(dict(arns))


def secrets_key_use(key_arn: str | None, actions: tuple[str, ...]) -> list[dict[str, Any]]:
    """The statement a role reading (or writing) secrets needs on their customer key; none without one."""
    if not key_arn:
        return []
    return [{"Sid": "UseSecretsKey", "Effect": "Allow", "Action": list(actions), "Resource": key_arn}]
