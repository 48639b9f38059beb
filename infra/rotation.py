"""Rotation: the database credentials and the JWT signing keys change on a schedule, without downtime."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra import assume_role_policy, policy_document, require, require_log_retention, type_token
from infra.limits import MAX_ROTATION_DAYS

DATABASE_TYPE = type_token("rotation", "DatabaseCredentialsRotation")
SIGNING_KEY_TYPE = type_token("rotation", "SigningKeyRotation")

POSTGRES_SINGLE_USER_APP = (
    "arn:aws:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSPostgreSQLRotationSingleUser"
)
"""AWS's published rotation function for one PostgreSQL user who changes its own password."""
POSTGRES_SINGLE_USER_VERSION = "1.1.671"
"""Its version, pinned so every deployment runs the same function."""
SIGNING_KEY_SOURCE = pathlib.Path(__file__).parent / "lambdas" / "jwt_rotation.py"
"""Source of the signing-key rotation function, zipped alone as index.py."""
LAMBDA_RUNTIME = "python3.12"


def _validate(rotation_days: int, log_retention_days: int) -> None:
    """Raises ValueError naming the field and what is allowed."""
    require(1 <= rotation_days <= MAX_ROTATION_DAYS, "rotation_days", rotation_days, f"1 to {MAX_ROTATION_DAYS}")
    require_log_retention(log_retention_days)


def _function_log_group(name: str, function_name: str, retention_days: int, parent: pulumi.Resource):
    """The function's log group, declared so it has a retention."""
    # Lambda would otherwise create this group itself, keeping logs forever.
    return aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=f"/aws/lambda/{function_name}",
        retention_in_days=retention_days,
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


class DatabaseCredentialsRotation(pulumi.ComponentResource):
    """AWS's single-user PostgreSQL rotation function, in the VPC, rotating the service's login password."""

    def __init__(
        self, name: str, args: DatabaseCredentialsRotationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        _validate(args.rotation_days, args.log_retention_days)
        super().__init__(DATABASE_TYPE, name, None, opts)
        function_name = f"{name}-fn"
        log_group = _function_log_group(name, function_name, args.log_retention_days, self)
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


@dataclasses.dataclass(frozen=True, kw_only=True)
class SigningKeyRotationArgs:
    """Inputs of a SigningKeyRotation."""

    secret_arn: pulumi.Input[str]
    """Secret with {"previous", "current", "next"} signing keys."""
    ready: Sequence[pulumi.Resource] = ()
    """What must exist before the schedule: the secret's first value."""
    cluster_name: pulumi.Input[str]
    """ECS cluster of the service whose tasks read the keys at start."""
    service_name: pulumi.Input[str]
    """That service, redeployed after each rotation."""
    service_arn: pulumi.Input[str]
    """Its ARN, the only service the function may update."""
    rotation_days: int = 30
    """Days between rotations."""
    log_retention_days: int = 30
    """Retention of the function's log group."""


class SigningKeyRotation(pulumi.ComponentResource):
    """Promotes next to current and current to previous on a schedule, then redeploys the service."""

    def __init__(self, name: str, args: SigningKeyRotationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args.rotation_days, args.log_retention_days)
        super().__init__(SIGNING_KEY_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        function_name = f"{name}-fn"
        log_group = _function_log_group(name, function_name, args.log_retention_days, self)
        # Role the function runs as.
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            description=f"{name}: rotates the JWT signing keys",
            opts=child,
        )
        # This secret's versions, this service's deployments, this log group; nothing else.
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(
                secret_arn=args.secret_arn, service_arn=args.service_arn, log_group_arn=log_group.arn
            ).apply(lambda v: signing_key_policy(**v)),
            opts=child,
        )
        # The function: the standard four rotation steps over the key set.
        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            runtime=LAMBDA_RUNTIME,
            handler="index.handler",
            code=pulumi.AssetArchive({"index.py": pulumi.FileAsset(str(SIGNING_KEY_SOURCE))}),
            role=role.arn,
            timeout=60,
            memory_size=128,
            environment={"variables": {"SERVICE_CLUSTER": args.cluster_name, "SERVICE_NAME": args.service_name}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, policy]),
        )
        # Secrets Manager may invoke the function, for this secret only.
        permission = aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="secretsmanager.amazonaws.com",
            source_arn=args.secret_arn,
            opts=child,
        )
        # The schedule: Secrets Manager calls the function every `rotation_days`, the first time one interval after
        # it is set up (not in the middle of the deployment that creates the service).
        self.rotation = aws.secretsmanager.SecretRotation(
            f"{name}-schedule",
            secret_id=args.secret_arn,
            rotation_lambda_arn=function.arn,
            rotation_rules={"automatically_after_days": args.rotation_days},
            rotate_immediately=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission, *args.ready]),
        )
        self.log_group_name = log_group.name
        self.register_outputs({"log_group_name": self.log_group_name, "function_arn": function.arn})


def signing_key_policy(*, secret_arn: str, service_arn: str, log_group_arn: str) -> str:
    """Least-privilege policy of the signing-key rotation function."""
    return policy_document(
        [
            {
                "Sid": "RotateTheKeySet",
                "Effect": "Allow",
                "Action": [
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecretVersionStage",
                ],
                "Resource": secret_arn,
            },
            {"Sid": "RedeployTheService", "Effect": "Allow", "Action": "ecs:UpdateService", "Resource": service_arn},
            {
                "Sid": "WriteLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn.removesuffix(':*')}:*",
            },
        ]
    )
