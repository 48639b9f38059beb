"""Service: the API on ECS Fargate in private subnets, behind the load balancer, with autoscaling."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from infra import policy_document, require, type_token
from infra.keys import KeyArns
from infra.storage import USERS_PREFIX
from infra.task import BlueGreenArgs, Container, FargateTask, FargateTaskArgs, Scaling, require_task_shape

TYPE = type_token("service", "Service")

CONTAINER_NAME = "api"
"""Name of the application container in the task definition."""
TOKEN_VARIABLES = (
    "JWT_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_SCOPE_PREFIX", "JWT_USER_SCOPE", "JWT_MAX_LIFETIME",
)  # fmt: skip
"""What the API verifies tokens with: the issuer, its key set, the clients, the scopes' prefix, the users' scope."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServiceArgs:
    """Inputs of a Service."""

    region: str
    """Region of the log group (awslogs-region)."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets the tasks run in."""
    security_group_id: pulumi.Input[str]
    """Security group of the tasks (ingress from the load balancer only)."""
    target_group_arn: pulumi.Input[str]
    """Target group the tasks register with."""
    request_count_labels: Sequence[pulumi.Input[str]]
    """`<alb arn suffix>/<target group arn suffix>` of each target group (blue/green: both), for request scaling."""
    image: pulumi.Input[str]
    """Digest-pinned image reference."""
    repository_arn: pulumi.Input[str]
    """ECR repository the execution role may pull from."""
    app_version: str
    """Version reported by the app (APP_VERSION)."""
    database_url: pulumi.Input[str]
    """DATABASE_URL through the proxy, without a password: the task signs in with an IAM token."""
    database_connect_arn: pulumi.Input[str]
    """The `rds-db:connect` resource the task role may use (that proxy, that database user)."""
    bucket_arn: pulumi.Input[str]
    """Application bucket the task may read and write under USERS_PREFIX."""
    bucket_name: pulumi.Input[str] | None = None
    """The application bucket's name, given to the API as FILES_BUCKET (its file routes); None: no file routes."""
    bucket_key_arn: pulumi.Input[str] | None = None
    """The application bucket's KMS key, which the task may use through S3 for its objects."""
    token_environment: Mapping[str, pulumi.Input[str]]
    """The issuer the API trusts (JWT_JWKS_URL, JWT_ISSUER and JWT_AUDIENCE required; see TOKEN_VARIABLES)."""
    container_port: int = 8000
    """Port the container listens on (PORT)."""
    health_check_path: str = "/livez"
    """No-I/O liveness path for the container health check."""
    cpu: int = 256
    """Fargate CPU units of a task."""
    memory: int = 512
    """Fargate memory of a task in MiB."""
    cpu_architecture: str = "X86_64"
    """CPU architecture of the task; must match the image's platform."""
    desired_count: int = 2
    """Tasks at first deployment; autoscaling owns the number afterwards."""
    min_count: int = 2
    """Autoscaling floor."""
    max_count: int = 4
    """Autoscaling ceiling."""
    cpu_target_percent: int = 60
    """Average CPU autoscaling keeps."""
    requests_per_target: int = 500
    """Requests per task per minute autoscaling keeps."""
    log_retention_days: int = 30
    """Retention of the container log group."""
    keys: KeyArns = dataclasses.field(default_factory=KeyArns)
    """Customer keys to encrypt with (the stack's own on protected stacks); AWS-managed keys where None."""
    user: str = "10001:10001"
    """Non-root user and group the container runs as."""
    extra_environment: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Further plain, non-secret environment variables."""
    cache_url: pulumi.Input[str] | None = None
    """rediss:// address of the cache (CACHE_URL); None runs the service without one."""
    cache_username: str | None = None
    """Cache user the tasks sign in as with an IAM token (CACHE_USERNAME)."""
    cache_connect_arns: Sequence[pulumi.Input[str]] = ()
    """The cache's replication group and user ARNs the task role may `elasticache:Connect` to."""
    blue_green: BlueGreenArgs | None = None
    """Release with ECS's blue/green strategy, gated by the release check; None replaces tasks rolling."""


class Service(pulumi.ComponentResource):
    """ECS cluster, the API's Fargate task with circuit-breaker rollback (and, blue/green, the release check's) and
    autoscaling."""

    def __init__(self, name: str, args: ServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__(TYPE, name, None, opts)
        self.cluster = self._cluster(name)
        self.task = self._task(name, args)

        self.service = self.task.service
        self.task_definition = self.task.task_definition
        self.log_group = self.task.log_group
        self.cluster_name = self.cluster.name
        self.cluster_arn = self.cluster.arn
        self.service_name = self.service.name
        self.service_arn = self.service.arn
        self.log_group_name = self.log_group.name
        self.task_definition_arn = self.task_definition.arn
        self.execution_role_arn = self.task.execution_role.arn
        self.task_role_arn = self.task.task_role.arn
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "service_name": self.service_name,
                "service_arn": self.service_arn,
                "task_definition_arn": self.task_definition_arn,
                "log_group_name": self.log_group_name,
            }
        )

    def _cluster(self, name: str) -> aws.ecs.Cluster:
        # The cluster, with Container Insights for per-task metrics.
        return aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[{"name": "containerInsights", "value": "enabled"}],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _task(self, name: str, args: ServiceArgs) -> FargateTask:
        """The API's task: behind the load balancer, scaled on CPU and on requests per task."""
        container = Container(
            name=CONTAINER_NAME,
            image=args.image,
            database_url=args.database_url,
            environment=_environment(args),
            port=args.container_port,
            health_check_path=args.health_check_path,
            user=args.user,
        )
        # Objects of the application bucket, IAM sign-in to the proxy and the cache as the service's user.
        policy = pulumi.Output.all(
            bucket_arn=args.bucket_arn,
            bucket_key_arn=args.bucket_key_arn,
            region=args.region,
            database_connect_arn=args.database_connect_arn,
            cache_connect_arns=list(args.cache_connect_arns),
        ).apply(lambda v: task_policy(**v))
        # The task: non-root, read-only root filesystem with a writable /tmp, no secret in it.
        return FargateTask(
            name,
            FargateTaskArgs(
                region=args.region,
                cluster_arn=self.cluster.arn,
                cluster_name=self.cluster.name,
                subnet_ids=args.subnet_ids,
                security_group_id=args.security_group_id,
                repository_arn=args.repository_arn,
                container=container,
                task_role_policy=policy,
                task_role_description="the API's own permissions",
                target_group_arn=args.target_group_arn,
                blue_green=args.blue_green,
                desired_count=args.desired_count,
                scaling=Scaling(
                    min_count=args.min_count,
                    max_count=args.max_count,
                    cpu_percent=args.cpu_target_percent,
                    requests_per_task=args.requests_per_target,
                    request_count_labels=args.request_count_labels,
                ),
                cpu=args.cpu,
                memory=args.memory,
                cpu_architecture=args.cpu_architecture,
                log_retention_days=args.log_retention_days,
                keys=args.keys,
            ),
            pulumi.ResourceOptions(parent=self),
        )


def _environment(args: ServiceArgs) -> dict[str, pulumi.Input[str]]:
    """The API's plain environment: no password anywhere, the database and the cache sign in with IAM tokens."""
    environment: dict[str, pulumi.Input[str]] = {
        "PORT": str(args.container_port),
        # Tokens are verified against the issuer's published keys: the service holds no signing secret.
        **dict(args.token_environment),
        # The proxy's certificate is publicly trusted: verify it and its name, not just encrypt.
        "DATABASE_SSLMODE": "verify-full",
        # No database password anywhere: each new connection presents an IAM token made with the task role.
        "DATABASE_IAM_AUTH": "true",
        "AWS_REGION": args.region,
        "APP_VERSION": args.app_version,
        **dict(args.extra_environment),
    }
    if args.bucket_name is not None:
        # The file routes: presigned uploads and downloads under the users' prefix, signed with the task role.
        environment.update({"FILES_BUCKET": args.bucket_name, "FILES_PREFIX": USERS_PREFIX})
    if args.cache_url is not None:
        # The cache signs tasks in with IAM tokens made from the task role: no password here either.
        environment.update(
            {"CACHE_IAM_AUTH": "true", "CACHE_USERNAME": args.cache_username or "", "CACHE_URL": args.cache_url}
        )
    return environment


def task_policy(
    *,
    bucket_arn: str,
    database_connect_arn: str,
    cache_connect_arns: Sequence[str] = (),
    bucket_key_arn: str | None = None,
    region: str | None = None,
) -> str:
    """Least-privilege policy of the application: its bucket's objects under the users' prefix (and the bucket's key,
    through S3), sign-in as its database and cache user."""
    cache = (
        [
            {
                "Sid": "ConnectToCache",
                "Effect": "Allow",
                "Action": "elasticache:Connect",
                "Resource": sorted(cache_connect_arns),
            }
        ]
        if cache_connect_arns
        else []
    )
    # Presigned uploads are encrypted and downloads decrypted with the bucket's key under this role's signature.
    key = (
        [
            {
                "Sid": "UseBucketKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": bucket_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            }
        ]
        if bucket_key_arn
        else []
    )
    return policy_document(
        [
            {
                "Sid": "ConnectToDatabase",
                "Effect": "Allow",
                "Action": "rds-db:connect",
                "Resource": database_connect_arn,
            },
            {
                "Sid": "ListUsersPrefix",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{USERS_PREFIX}*"]}},
            },
            {
                "Sid": "ReadWriteUsersObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"{bucket_arn}/{USERS_PREFIX}*",
            },
            *key,
            *cache,
        ]
    )


def _validate(args: ServiceArgs) -> None:
    """Raises ValueError naming the field and what is allowed."""
    require_task_shape(cpu=args.cpu, memory=args.memory, user=args.user, log_retention_days=args.log_retention_days)
    require(args.cpu_architecture in ("X86_64", "ARM64"), "cpu_architecture", args.cpu_architecture, "X86_64, ARM64")
    require(
        1 <= args.min_count <= args.desired_count <= args.max_count,
        "desired_count",
        args.desired_count,
        f"from min_count ({args.min_count}) to max_count ({args.max_count}), min_count at least 1",
    )
    require(10 <= args.cpu_target_percent <= 90, "cpu_target_percent", args.cpu_target_percent, "10 to 90")
    require(args.requests_per_target >= 1, "requests_per_target", args.requests_per_target, "1 or more")
    require(args.health_check_path.startswith("/"), "health_check_path", args.health_check_path, "a path")
    unknown = sorted(set(args.token_environment) - set(TOKEN_VARIABLES))
    require(not unknown, "token_environment", unknown, ", ".join(TOKEN_VARIABLES))
    missing = [name for name in TOKEN_VARIABLES[:3] if not args.token_environment.get(name)]
    require(not missing, "token_environment", f"without {', '.join(missing)}", "JWT_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE")
