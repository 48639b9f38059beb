"""FargateTask: one Fargate workload (log group, roles, task definition, ECS service, autoscaling), API or worker."""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import assume_role_policy, policy_document, require, require_log_retention, type_token
from infra.limits import (
    FARGATE_MAX_STOP_TIMEOUT_SECONDS,
    FARGATE_SIZES,
    SECRET_NAME_TEXT,
    fargate_memory_text,
    holds_secret,
)

TYPE = type_token("task", "FargateTask")

_COOLDOWNS = {"scale_in_cooldown": 300, "scale_out_cooldown": 60}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Container:
    """The task's one container."""

    name: str
    """Container name (also the log stream prefix)."""
    image: pulumi.Input[str]
    """Digest-pinned image reference."""
    database_url: pulumi.Input[str]
    """DATABASE_URL through the proxy, without a password: the task signs in with an IAM token."""
    environment: Mapping[str, pulumi.Input[str]] = dataclasses.field(default_factory=dict)
    """Plain, non-secret environment variables."""
    secrets: Mapping[str, pulumi.Input[str]] = dataclasses.field(default_factory=dict)
    """Variables ECS injects from Secrets Manager: name to `valueFrom`."""
    port: int | None = None
    """Port the container listens on; None for a container that serves nothing (no port, no HTTP check)."""
    health_check_path: str | None = None
    """No-I/O liveness path the container health check requests."""
    command: Sequence[str] | None = None
    """Command in the image; None keeps the image's own."""
    stop_timeout_seconds: int = 30
    """Seconds after SIGTERM before the container is killed."""
    user: str = "10001:10001"
    """Non-root user and group the container runs as."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Backlog:
    """A queue depth the workload publishes, kept at a number of waiting items per running task."""

    namespace: str
    """CloudWatch namespace of the metric."""
    metric_name: str
    """Name of the metric (waiting items, all tasks together)."""
    dimensions: Mapping[str, str]
    """Dimensions the metric is published with."""
    per_task: int
    """Waiting items per running task that autoscaling keeps."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Scaling:
    """Task-count bounds and the targets Application Auto Scaling tracks; each target given adds one policy."""

    min_count: int
    """Autoscaling floor."""
    max_count: int
    """Autoscaling ceiling."""
    cpu_percent: int | None = None
    """Average CPU kept (policy `<name>-scale-cpu`)."""
    requests_per_task: int | None = None
    """Load-balancer requests per task per minute kept (policy `<name>-scale-requests`)."""
    request_count_label: pulumi.Input[str] | None = None
    """`<alb arn suffix>/<target group arn suffix>` the request count is read from."""
    backlog: Backlog | None = None
    """A published backlog kept per running task (policy `<name>-scale-backlog`)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class FargateTaskArgs:
    """Inputs of a FargateTask."""

    region: str
    """Region of the log group (awslogs-region)."""
    cluster_arn: pulumi.Input[str]
    """ECS cluster the service runs in."""
    cluster_name: pulumi.Input[str]
    """Name of that cluster, for autoscaling and metrics."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets the tasks run in."""
    security_group_id: pulumi.Input[str]
    """Security group of the tasks."""
    repository_arn: pulumi.Input[str]
    """ECR repository the execution role may pull from."""
    container: Container
    """The task's container."""
    task_role_policy: pulumi.Input[str]
    """Policy document of the role the code runs as: everything the application itself may do."""
    task_role_description: str
    """What the task role is for, after `<name>: ` in its description."""
    scaling: Scaling
    """Task-count bounds and the targets kept."""
    execution_secret_arns: Sequence[pulumi.Input[str]] = ()
    """Secrets the execution role reads to inject them at task start."""
    target_group_arn: pulumi.Input[str] | None = None
    """Target group the container's port registers with; None runs the service without a load balancer."""
    desired_count: int | None = None
    """Tasks at first deployment (the floor when None); autoscaling owns the number afterwards."""
    cpu: int = 256
    """Fargate CPU units of a task."""
    memory: int = 512
    """Fargate memory of a task in MiB."""
    cpu_architecture: str = "X86_64"
    """CPU architecture of the task; must match the image's platform."""
    log_retention_days: int = 30
    """Retention of the container log group."""


class FargateTask(pulumi.ComponentResource):
    """An ECS service of one Fargate task: its log group, execution and task roles, task definition, autoscaling.

    Its children were once declared directly under the component that owns it (the API's `Service`, the
    `Worker`): each carries an alias with that parent, so a deployed stack keeps every one of them in place.
    """

    def __init__(self, name: str, args: FargateTaskArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        validate(args)
        super().__init__(TYPE, name, None, opts)
        self._moved = pulumi.ResourceOptions(
            parent=self, aliases=[pulumi.Alias(parent=opts.parent)] if opts and opts.parent else None
        )
        self.log_group = self._log_group(name, args)
        self.execution_role, self.execution_policy = self._execution_role(name, args)
        self.task_role, self.task_policy = self._task_role(name, args)
        self.container_definitions = self._container_definitions(args)
        self.task_definition = self._task_definition(name, args)
        self.service = self._service(name, args)
        self.scaling_target = self._scaling(name, args)

        self.service_name = self.service.name
        self.log_group_name = self.log_group.name
        self.task_definition_arn = self.task_definition.arn
        self.register_outputs(
            {
                "service_name": self.service_name,
                "log_group_name": self.log_group_name,
                "task_definition_arn": self.task_definition_arn,
            }
        )

    def _log_group(self, name: str, args: FargateTaskArgs) -> aws.cloudwatch.LogGroup:
        # The container's logs, kept for the configured period.
        return aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/groundwork/{name}", retention_in_days=args.log_retention_days, opts=self._moved
        )

    def _execution_role(self, name: str, args: FargateTaskArgs) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The role ECS uses at task start, and its policy."""
        duties = "image pull, logs, secrets" if args.execution_secret_arns else "image pull, logs"
        # Role ECS uses to pull the image, write logs and read the injected secrets at task start.
        role = aws.iam.Role(
            f"{name}-execution-role",
            assume_role_policy=assume_role_policy("ecs-tasks.amazonaws.com"),
            description=f"{name}: ECS task execution ({duties})",
            opts=self._moved,
        )
        # Image pull from this repository, this log group's streams, the injected secrets; nothing else.
        policy = aws.iam.RolePolicy(
            f"{name}-execution-policy",
            role=role.id,
            policy=pulumi.Output.all(
                repository_arn=args.repository_arn,
                log_group_arn=self.log_group.arn,
                secret_arns=list(args.execution_secret_arns),
            ).apply(lambda v: execution_policy(**v)),
            opts=self._moved,
        )
        return role, policy

    def _task_role(self, name: str, args: FargateTaskArgs) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The role the application code runs as, and its policy."""
        # Role the application code runs as.
        role = aws.iam.Role(
            f"{name}-task-role",
            assume_role_policy=assume_role_policy("ecs-tasks.amazonaws.com"),
            description=f"{name}: {args.task_role_description}",
            opts=self._moved,
        )
        # What the application itself may do, as its owner wrote it; nothing else.
        policy = aws.iam.RolePolicy(f"{name}-task-policy", role=role.id, policy=args.task_role_policy, opts=self._moved)
        return role, policy

    def _container_definitions(self, args: FargateTaskArgs) -> pulumi.Output[str]:
        """The container definitions as ECS takes them, once the log group and the inputs are known."""
        container = args.container
        return pulumi.Output.all(
            image=container.image,
            log_group=self.log_group.name,
            database_url=container.database_url,
            environment=dict(container.environment),
            secrets=dict(container.secrets),
        ).apply(
            lambda v: json.dumps(
                container_definitions(
                    image=v["image"],
                    log_group=v["log_group"],
                    region=args.region,
                    environment=v["environment"],
                    database_url=v["database_url"],
                    secrets=v["secrets"],
                    port=container.port,
                    health_check_path=container.health_check_path,
                    user=container.user,
                    name=container.name,
                    command=container.command,
                    stop_timeout=container.stop_timeout_seconds,
                ),
                sort_keys=True,
            )
        )

    def _task_definition(self, name: str, args: FargateTaskArgs) -> aws.ecs.TaskDefinition:
        # One revision of the task: Fargate, its own network interface, a writable ephemeral /tmp volume.
        return aws.ecs.TaskDefinition(
            f"{name}-task",
            family=name,
            cpu=str(args.cpu),
            memory=str(args.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": args.cpu_architecture},
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            container_definitions=self.container_definitions,
            volumes=[{"name": "tmp"}],
            opts=self._moved,
        )

    def _service(self, name: str, args: FargateTaskArgs) -> aws.ecs.Service:
        behind_load_balancer = args.target_group_arn is not None
        load_balancers = [
            {
                "target_group_arn": args.target_group_arn,
                "container_name": args.container.name,
                "container_port": args.container.port,
            }
        ]
        # The service: private tasks, rollback on failed deployments, waits until the new tasks are healthy.
        return aws.ecs.Service(
            f"{name}-service",
            cluster=args.cluster_arn,
            task_definition=self.task_definition.arn,
            launch_type="FARGATE",
            desired_count=args.scaling.min_count if args.desired_count is None else args.desired_count,
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            wait_for_steady_state=True,
            health_check_grace_period_seconds=60 if behind_load_balancer else None,
            enable_execute_command=False,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            network_configuration={
                "subnets": list(args.subnet_ids),
                "security_groups": [args.security_group_id],
                "assign_public_ip": False,
            },
            load_balancers=load_balancers if behind_load_balancer else None,
            opts=pulumi.ResourceOptions.merge(
                self._moved,
                pulumi.ResourceOptions(
                    depends_on=[self.execution_policy, self.task_policy], ignore_changes=["desiredCount"]
                ),
            ),
        )

    def _scaling(self, name: str, args: FargateTaskArgs) -> aws.appautoscaling.Target:
        """The scalable target and one target-tracking policy per target the scaling names."""
        scaling = args.scaling
        # Lets Application Auto Scaling change the service's task count within the bounds.
        target = aws.appautoscaling.Target(
            f"{name}-scaling-target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", args.cluster_name, "/", self.service.name),
            min_capacity=scaling.min_count,
            max_capacity=scaling.max_count,
            opts=self._moved,
        )
        for kind, value, metric in self._tracked(args):
            # Keeps one metric at its target by adding or removing tasks.
            aws.appautoscaling.Policy(
                f"{name}-scale-{kind}",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration={"target_value": value, **metric, **_COOLDOWNS},
                opts=self._moved,
            )
        return target

    def _tracked(self, args: FargateTaskArgs) -> list[tuple[str, int, dict[str, Any]]]:
        """Each target the scaling names: the policy's name suffix, its target value and its metric."""
        scaling = args.scaling
        tracked: list[tuple[str, int, dict[str, Any]]] = []
        if scaling.cpu_percent is not None:
            cpu = {"predefined_metric_type": "ECSServiceAverageCPUUtilization"}
            tracked.append(("cpu", scaling.cpu_percent, {"predefined_metric_specification": cpu}))
        if scaling.requests_per_task is not None:
            label = scaling.request_count_label
            requests = {"predefined_metric_type": "ALBRequestCountPerTarget", "resource_label": label}
            tracked.append(("requests", scaling.requests_per_task, {"predefined_metric_specification": requests}))
        if scaling.backlog is not None:
            backlog = {"metrics": backlog_per_task_metrics(scaling.backlog, args.cluster_name, self.service.name)}
            tracked.append(("backlog", scaling.backlog.per_task, {"customized_metric_specification": backlog}))
        return tracked


def backlog_per_task_metrics(
    backlog: Backlog, cluster_name: pulumi.Input[str], service_name: pulumi.Input[str]
) -> list[dict[str, Any]]:
    """Metric math for target tracking: the published backlog divided by the service's running tasks."""
    return [
        {
            "id": "backlog",
            "metric_stat": {
                "metric": {
                    "namespace": backlog.namespace,
                    "metric_name": backlog.metric_name,
                    "dimensions": [{"name": k, "value": v} for k, v in backlog.dimensions.items()],
                },
                "stat": "Maximum",
            },
            "return_data": False,
        },
        {
            "id": "tasks",
            "metric_stat": {
                "metric": {
                    "namespace": "ECS/ContainerInsights",
                    "metric_name": "RunningTaskCount",
                    "dimensions": [
                        {"name": "ClusterName", "value": cluster_name},
                        {"name": "ServiceName", "value": service_name},
                    ],
                },
                "stat": "Average",
            },
            "return_data": False,
        },
        {"id": "per_task", "expression": "backlog / MAX([tasks, 1])", "label": "backlog per task", "return_data": True},
    ]


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
    name: str,
    command: Sequence[str] | None = None,
    stop_timeout: int = 30,
) -> list[dict[str, Any]]:
    """The task's container definitions, in the shape of ECS RegisterTaskDefinition's containerDefinitions.

    A container without a port (a worker) has no port mapping and no HTTP health check; ECS replaces it when its
    process exits.
    """
    for key in environment:
        if holds_secret(key):
            raise ValueError(
                f"environment={key!r} is not allowed; allowed: {SECRET_NAME_TEXT} (pass secrets as secrets)"
            )
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


def require_task_shape(*, cpu: int, memory: int, user: str, log_retention_days: int) -> None:
    """Raises ValueError unless Fargate offers the size, the user is not root and CloudWatch takes the retention."""
    require(cpu in FARGATE_SIZES, "cpu", cpu, ", ".join(map(str, FARGATE_SIZES)))
    require(memory in FARGATE_SIZES[cpu], "memory", memory, fargate_memory_text(cpu))
    require(user.split(":")[0] not in ("", "0", "root"), "user", user, "a non-root user such as 10001:10001")
    require_log_retention(log_retention_days)


def validate(args: FargateTaskArgs) -> None:
    """Raises ValueError naming the field and what is allowed."""
    container, scaling = args.container, args.scaling
    require_task_shape(
        cpu=args.cpu, memory=args.memory, user=container.user, log_retention_days=args.log_retention_days
    )
    require(args.cpu_architecture in ("X86_64", "ARM64"), "cpu_architecture", args.cpu_architecture, "X86_64, ARM64")
    desired = scaling.min_count if args.desired_count is None else args.desired_count
    require(
        1 <= scaling.min_count <= desired <= scaling.max_count,
        "desired_count",
        desired,
        f"from min_count ({scaling.min_count}) to max_count ({scaling.max_count}), min_count at least 1",
    )
    require(
        2 <= container.stop_timeout_seconds <= FARGATE_MAX_STOP_TIMEOUT_SECONDS,
        "stop_timeout_seconds",
        container.stop_timeout_seconds,
        f"2 to {FARGATE_MAX_STOP_TIMEOUT_SECONDS}",
    )
    require(
        args.target_group_arn is None or container.port is not None,
        "container.port",
        container.port,
        "a port when target_group_arn is set",
    )
    require(
        scaling.requests_per_task is None or scaling.request_count_label is not None,
        "request_count_label",
        scaling.request_count_label,
        "the load balancer's label when requests_per_task is set",
    )
