"""Service: the API on ECS Fargate in private subnets, behind the load balancer, with autoscaling."""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra import assume_role_policy, policy_document, require, require_log_retention, type_token
from infra.limits import FARGATE_SIZES, fargate_memory_text

TYPE = type_token("service", "Service")

CONTAINER_NAME = "api"
"""Name of the application container in the task definition."""
_SECRETISH = ("SECRET", "PASSWORD", "TOKEN", "KEY", "DATABASE_URL", "CREDENTIAL")
JWT_KEY_SLOTS = ("previous", "current", "next")
"""JSON keys of the signing-key secret."""
JWT_KEY_ENVIRONMENT = {"JWT_SECRET": "current", "JWT_SECRET_NEXT": "next", "JWT_SECRET_PREVIOUS": "previous"}
"""The app's key variables and the secret's JSON key each is injected from."""


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
    request_count_label: pulumi.Input[str]
    """`<alb arn suffix>/<target group arn suffix>` for request-based autoscaling."""
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
    """Application bucket the task may read and write."""
    jwt_issuer: str
    """Expected `iss` claim (JWT_ISSUER)."""
    jwt_audience: str
    """Expected `aud` claim (JWT_AUDIENCE)."""
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
    secret_recovery_window_days: int = 30
    """Days a deleted JWT key-set secret can be restored (0 or 7 to 30)."""
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


class Service(pulumi.ComponentResource):
    """ECS cluster, Fargate task definition and service with circuit-breaker rollback and autoscaling."""

    def __init__(self, name: str, args: ServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The cluster, with Container Insights for per-task metrics.
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[{"name": "containerInsights", "value": "enabled"}],
            opts=child,
        )
        # Container logs, kept for the configured period.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/groundwork/{name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        # The first signing keys of the service's JWTs; rotation replaces them afterwards.
        keys = [
            random.RandomPassword(f"{name}-jwt-{slot}", length=64, special=False, opts=child).result
            for slot in JWT_KEY_SLOTS
        ]
        # The key set: tokens are signed with "current"; the service also accepts "next" and "previous", so a
        # rotation (next becomes current) never rejects a token and tasks started before it keep working.
        self.jwt_secret = aws.secretsmanager.Secret(
            f"{name}-jwt-secret",
            description=f"{name}: the service's JWT signing keys (previous, current, next), rotated",
            recovery_window_in_days=args.secret_recovery_window_days,
            opts=child,
        )
        # First value of the key set; rotation writes every later one, so the program never rewrites it.
        self.jwt_secret_value = aws.secretsmanager.SecretVersion(
            f"{name}-jwt-secret-value",
            secret_id=self.jwt_secret.id,
            secret_string=pulumi.Output.secret(pulumi.Output.all(*keys)).apply(
                lambda values: json.dumps(dict(zip(JWT_KEY_SLOTS, values, strict=True)))
            ),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secretString"]),
        )

        # Role ECS uses to pull the image, write logs and read the key set at task start.
        execution_role = aws.iam.Role(
            f"{name}-execution-role",
            assume_role_policy=assume_role_policy("ecs-tasks.amazonaws.com"),
            description=f"{name}: ECS task execution (image pull, logs, secrets)",
            opts=child,
        )
        # Image pull from this repository, this log group's streams, the key set; nothing else.
        self.execution_policy = aws.iam.RolePolicy(
            f"{name}-execution-policy",
            role=execution_role.id,
            policy=pulumi.Output.all(args.repository_arn, self.log_group.arn, self.jwt_secret.arn).apply(
                lambda v: execution_policy(repository_arn=v[0], log_group_arn=v[1], secret_arns=[v[2]])
            ),
            opts=child,
        )
        # Role the application code runs as: the application bucket and its database user, nothing else.
        task_role = aws.iam.Role(
            f"{name}-task-role",
            assume_role_policy=assume_role_policy("ecs-tasks.amazonaws.com"),
            description=f"{name}: the API's own permissions",
            opts=child,
        )
        # Objects of the application bucket and IAM sign-in to the proxy as the service's user; nothing else.
        self.task_policy = aws.iam.RolePolicy(
            f"{name}-task-policy",
            role=task_role.id,
            policy=pulumi.Output.all(args.bucket_arn, args.database_connect_arn, *args.cache_connect_arns).apply(
                lambda v: task_policy(bucket_arn=v[0], database_connect_arn=v[1], cache_connect_arns=v[2:])
            ),
            opts=child,
        )

        environment = {
            "PORT": str(args.container_port),
            "JWT_ISSUER": args.jwt_issuer,
            "JWT_AUDIENCE": args.jwt_audience,
            # The proxy's certificate is publicly trusted: verify it and its name, not just encrypt.
            "DATABASE_SSLMODE": "verify-full",
            # No database password anywhere: each new connection presents an IAM token made with the task role.
            "DATABASE_IAM_AUTH": "true",
            "AWS_REGION": args.region,
            "APP_VERSION": args.app_version,
            **dict(args.extra_environment),
        }
        if args.cache_url is not None:
            # The cache signs tasks in with IAM tokens made from the task role: no password here either.
            environment.update({"CACHE_IAM_AUTH": "true", "CACHE_USERNAME": args.cache_username or ""})
        self.container_definitions = pulumi.Output.all(
            args.image, self.log_group.name, args.database_url, self.jwt_secret.arn, args.cache_url
        ).apply(
            lambda v: json.dumps(
                container_definitions(
                    image=v[0],
                    log_group=v[1],
                    region=args.region,
                    environment={**environment, **({"CACHE_URL": v[4]} if v[4] else {})},
                    database_url=v[2],
                    secrets={env: f"{v[3]}:{slot}::" for env, slot in JWT_KEY_ENVIRONMENT.items()},
                    port=args.container_port,
                    health_check_path=args.health_check_path,
                    user=args.user,
                ),
                sort_keys=True,
            )
        )
        # The task: non-root, read-only root filesystem with a writable /tmp, secrets from Secrets Manager.
        self.task_definition = fargate_task(
            name,
            cpu=args.cpu,
            memory=args.memory,
            cpu_architecture=args.cpu_architecture,
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            container_definitions=self.container_definitions,
            parent=self,
        )
        # The service: private tasks, rollback on failed deployments, waits until the new tasks are healthy.
        self.service = aws.ecs.Service(
            f"{name}-service",
            cluster=self.cluster.arn,
            task_definition=self.task_definition.arn,
            launch_type="FARGATE",
            desired_count=args.desired_count,
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            wait_for_steady_state=True,
            health_check_grace_period_seconds=60,
            enable_execute_command=False,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            network_configuration={
                "subnets": list(args.subnet_ids),
                "security_groups": [args.security_group_id],
                "assign_public_ip": False,
            },
            load_balancers=[
                {
                    "target_group_arn": args.target_group_arn,
                    "container_name": CONTAINER_NAME,
                    "container_port": args.container_port,
                }
            ],
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.execution_policy, self.task_policy],
                ignore_changes=["desiredCount"],
            ),
        )
        resource_id = pulumi.Output.concat("service/", self.cluster.name, "/", self.service.name)
        # Lets Application Auto Scaling change the service's task count within the bounds.
        scaling_target = aws.appautoscaling.Target(
            f"{name}-scaling-target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=resource_id,
            min_capacity=args.min_count,
            max_capacity=args.max_count,
            opts=child,
        )
        # Scales on average CPU.
        aws.appautoscaling.Policy(
            f"{name}-scale-cpu",
            policy_type="TargetTrackingScaling",
            service_namespace=scaling_target.service_namespace,
            scalable_dimension=scaling_target.scalable_dimension,
            resource_id=scaling_target.resource_id,
            target_tracking_scaling_policy_configuration={
                "target_value": args.cpu_target_percent,
                "predefined_metric_specification": {"predefined_metric_type": "ECSServiceAverageCPUUtilization"},
                "scale_in_cooldown": 300,
                "scale_out_cooldown": 60,
            },
            opts=child,
        )
        # Scales on requests per task from the load balancer.
        aws.appautoscaling.Policy(
            f"{name}-scale-requests",
            policy_type="TargetTrackingScaling",
            service_namespace=scaling_target.service_namespace,
            scalable_dimension=scaling_target.scalable_dimension,
            resource_id=scaling_target.resource_id,
            target_tracking_scaling_policy_configuration={
                "target_value": args.requests_per_target,
                "predefined_metric_specification": {
                    "predefined_metric_type": "ALBRequestCountPerTarget",
                    "resource_label": args.request_count_label,
                },
                "scale_in_cooldown": 300,
                "scale_out_cooldown": 60,
            },
            opts=child,
        )

        self.cluster_name = self.cluster.name
        self.service_name = self.service.name
        self.service_arn = self.service.arn
        self.jwt_secret_arn = self.jwt_secret.arn
        self.log_group_name = self.log_group.name
        self.task_definition_arn = self.task_definition.arn
        self.cluster_arn = self.cluster.arn
        self.execution_role_arn = execution_role.arn
        self.task_role_arn = task_role.arn
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "service_name": self.service_name,
                "service_arn": self.service_arn,
                "task_definition_arn": self.task_definition.arn,
                "jwt_secret_arn": self.jwt_secret_arn,
                "log_group_name": self.log_group_name,
            }
        )


def fargate_task(
    name: str,
    *,
    cpu: int,
    memory: int,
    cpu_architecture: str,
    execution_role_arn: pulumi.Input[str],
    task_role_arn: pulumi.Input[str],
    container_definitions: pulumi.Input[str],
    parent: pulumi.Resource,
) -> aws.ecs.TaskDefinition:
    """The Fargate task definition of a component (the service's or the worker's), named `<name>-task`."""
    # One revision of the task: Fargate, its own network interface, a writable ephemeral /tmp volume.
    return aws.ecs.TaskDefinition(
        f"{name}-task",
        family=name,
        cpu=str(cpu),
        memory=str(memory),
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": cpu_architecture},
        execution_role_arn=execution_role_arn,
        task_role_arn=task_role_arn,
        container_definitions=container_definitions,
        volumes=[{"name": "tmp"}],
        opts=pulumi.ResourceOptions(parent=parent),
    )


def container_definitions(
    *,
    image: str,
    log_group: str,
    region: str,
    environment: Mapping[str, str],
    database_url: str,
    secrets: Mapping[str, str],
    port: int | None,
    health_check_path: str | None,
    user: str,
    name: str = CONTAINER_NAME,
    command: Sequence[str] | None = None,
    stop_timeout: int = 30,
) -> list[dict[str, Any]]:
    """The task's container definitions, in the shape of ECS RegisterTaskDefinition's containerDefinitions.

    A container without a port (a worker) has no port mapping and no HTTP health check; ECS replaces it when its
    process exits.
    """
    for key in environment:
        if any(word in key.upper() for word in _SECRETISH):
            raise ValueError(f"environment={key!r} is not allowed; allowed: non-secret names (use secrets)")
    if urllib.parse.urlsplit(database_url).password is not None:
        raise ValueError("database_url carries a password (not shown); allowed: a URL without one (IAM sign-in)")
    environment = {**environment, "DATABASE_URL": database_url}
    log_options = {
        "awslogs-group": log_group,
        "awslogs-region": region,
        "awslogs-stream-prefix": name,
        "mode": "non-blocking",
    }
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "essential": True,
        "user": user,
        "privileged": False,
        "readonlyRootFilesystem": True,
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(secrets.items())],
        "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}],  # noqa: S108 - the container's own /tmp, an ephemeral task volume
        "linuxParameters": {"capabilities": {"drop": ["ALL"]}, "initProcessEnabled": True},
        "stopTimeout": stop_timeout,
        "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
        "logConfiguration": {"logDriver": "awslogs", "options": log_options},
    }
    if command is not None:
        container["command"] = list(command)
    if port is not None:
        container["portMappings"] = [{"containerPort": port, "protocol": "tcp", "name": "http", "appProtocol": "http"}]
    if port is not None and health_check_path is not None:
        probe = (
            f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{health_check_path}', timeout=2)"
        )
        container["healthCheck"] = {
            "command": ["CMD", "python", "-c", probe],
            "interval": 15,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 20,
        }
    return [container]


def execution_policy(*, repository_arn: str, log_group_arn: str, secret_arns: Sequence[str]) -> str:
    """Least-privilege policy of the task execution role."""
    return policy_document(
        [
            {
                "Sid": "EcrAuth",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                # GetAuthorizationToken has no resource-level permissions.
                "Resource": "*",
            },
            {
                "Sid": "PullImage",
                "Effect": "Allow",
                "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": repository_arn,
            },
            {
                "Sid": "WriteLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn.removesuffix(':*')}:*",
            },
            {
                "Sid": "ReadSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": sorted(secret_arns),
            },
        ]
    )


def task_policy(*, bucket_arn: str, database_connect_arn: str, cache_connect_arns: Sequence[str] = ()) -> str:
    """Least-privilege policy of the application: its bucket's objects, sign-in as its database and cache user."""
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
    return policy_document(
        [
            {
                "Sid": "ConnectToDatabase",
                "Effect": "Allow",
                "Action": "rds-db:connect",
                "Resource": database_connect_arn,
            },
            {"Sid": "ListBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
            {
                "Sid": "ReadWriteObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"{bucket_arn}/*",
            },
            *cache,
        ]
    )


def _validate(args: ServiceArgs) -> None:
    """Raises ValueError naming the field and what is allowed."""
    require(args.cpu in FARGATE_SIZES, "cpu", args.cpu, ", ".join(map(str, FARGATE_SIZES)))
    require(args.memory in FARGATE_SIZES[args.cpu], "memory", args.memory, fargate_memory_text(args.cpu))
    require(args.cpu_architecture in ("X86_64", "ARM64"), "cpu_architecture", args.cpu_architecture, "X86_64, ARM64")
    require(
        1 <= args.min_count <= args.desired_count <= args.max_count,
        "desired_count",
        args.desired_count,
        f"from min_count ({args.min_count}) to max_count ({args.max_count}), min_count at least 1",
    )
    require(10 <= args.cpu_target_percent <= 90, "cpu_target_percent", args.cpu_target_percent, "10 to 90")
    require(args.requests_per_target >= 1, "requests_per_target", args.requests_per_target, "1 or more")
    require_log_retention(args.log_retention_days)
    require(
        args.user.split(":")[0] not in ("", "0", "root"),
        "user",
        args.user,
        "a non-root user such as 10001:10001",
    )
    require(args.health_check_path.startswith("/"), "health_check_path", args.health_check_path, "a path")
    require(
        args.secret_recovery_window_days == 0 or 7 <= args.secret_recovery_window_days <= 30,
        "secret_recovery_window_days",
        args.secret_recovery_window_days,
        "0 or 7 to 30",
    )
