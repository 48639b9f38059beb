"""Rotation: the database credentials change on a schedule, without downtime."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra import require, require_log_retention, type_token
from infra.keys import KeyArns
from infra.limits import MAX_ROTATION_DAYS

DATABASE_TYPE = type_token("rotation", "DatabaseCredentialsRotation")

POSTGRES_SINGLE_USER_APP = (
    "arn:aws:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSPostgreSQLRotationSingleUser"
)
"""AWS's published rotation function for one PostgreSQL user who changes its own password."""
POSTGRES_SINGLE_USER_VERSION = "1.1.671"
"""Its version, pinned so every deployment runs the same function."""


def _validate(rotation_days: int, log_retention_days: int) -> None:
    """Raises ValueError naming the field and what is allowed."""
    require(1 <= rotation_days <= MAX_ROTATION_DAYS, "rotation_days", rotation_days, f"1 to {MAX_ROTATION_DAYS}")
    require_log_retention(log_retention_days)


def _function_log_group(
    name: str, function_name: str, retention_days: int, parent: pulumi.Resource, key: pulumi.Input[str] | None
):
    """The function's log group, declared so it has a retention (and the stack's logs key when it has one)."""
    # Lambda would otherwise create this group itself, keeping logs forever.
    return aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=f"/aws/lambda/{function_name}",
        retention_in_days=retention_days,
        kms_key_id=key,
        opts=pulumi.ResourceOptions(parent=parent),
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class DatabaseCredentialsRotationArgs:
    """Inputs of a DatabaseCredentialsRotation."""

    region: str
    """Region of the Secrets Manager endpoint the function calls."""
    secret_arn: pulumi.Input[str]
    """Secret with {"engine", "host", "port", "dbname", "username", "password"} of the login role."""
    ready: Sequence[pulumi.Resource] = ()
    """What must exist before the schedule: the secret's first value, the database, the login role."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets (with a route to Secrets Manager) the function runs in."""
    security_group_id: pulumi.Input[str]
    """Group the database admits on its port and that may reach AWS APIs over HTTPS."""
    rotation_days: int = 30
    """Days between rotations."""
    log_retention_days: int = 30
    """Retention of the function's log group."""
    keys: KeyArns = dataclasses.field(default_factory=KeyArns)
    """Customer keys to encrypt with (the stack's own on protected stacks); AWS-managed keys where None."""


class DatabaseCredentialsRotation(pulumi.ComponentResource):
    """AWS's single-user PostgreSQL rotation function, in the VPC, rotating the service's login password."""

    def __init__(
        self, name: str, args: DatabaseCredentialsRotationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        _validate(args.rotation_days, args.log_retention_days)
        super().__init__(DATABASE_TYPE, name, None, opts)
        function_name = f"{name}-fn"
        log_group = _function_log_group(name, function_name, args.log_retention_days, self, args.keys.logs)
        # The function, from the Serverless Application Repository; its template grants Secrets Manager the right
        # to invoke it and gives it a role limited to this kind of secret.
        application = aws.serverlessrepository.CloudFormationStack(
            f"{name}-app",
            name=f"{name}-app",
            application_id=POSTGRES_SINGLE_USER_APP,
            semantic_version=POSTGRES_SINGLE_USER_VERSION,
            capabilities=["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"],
            parameters={
                "endpoint": f"https://secretsmanager.{args.region}.amazonaws.com",
                "functionName": function_name,
                "vpcSubnetIds": pulumi.Output.all(subnets=list(args.subnet_ids)).apply(
                    lambda v: ",".join(v["subnets"])
                ),
                "vpcSecurityGroupIds": args.security_group_id,
                # The template lets the function use the secret's customer key, when it has one.
                **({"kmsKeyArn": args.keys.secrets} if args.keys.secrets else {}),
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )
        # The schedule: Secrets Manager calls the function every `rotation_days`, the first time one interval after
        # it is set up; by then the database-objects step has created the login role the function signs in as.
        self.rotation = aws.secretsmanager.SecretRotation(
            f"{name}-schedule",
            secret_id=args.secret_arn,
            rotation_lambda_arn=application.outputs.apply(lambda o: o["RotationLambdaARN"]),
            rotation_rules={"automatically_after_days": args.rotation_days},
            rotate_immediately=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.ready)),
        )
        self.log_group_name = log_group.name
        self.register_outputs({"log_group_name": self.log_group_name})
