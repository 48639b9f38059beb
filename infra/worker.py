"""Worker: background jobs on ECS Fargate from the API's image, no load balancer, scaled on its queue's backlog."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from infra import assume_role_policy, policy_document, require, require_log_retention, type_token
from infra.dashboards import AlarmSpec, Panel
from infra.limits import FARGATE_MAX_STOP_TIMEOUT_SECONDS, FARGATE_SIZES
from infra.service import container_definitions, execution_policy, fargate_task

TYPE = type_token("worker", "Worker")

CONTAINER_NAME = "worker"
"""Name of the worker container in its task definition."""
METRIC_NAMESPACE = "Groundwork/Worker"
"""CloudWatch namespace the worker publishes its backlog in."""
BACKLOG_METRIC = "Backlog"
"""Events waiting to be processed, published by the worker every minute."""
MAX_STOP_TIMEOUT = FARGATE_MAX_STOP_TIMEOUT_SECONDS


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkerArgs:
    """Inputs of a Worker."""

    region: str
    """Region of the log group and of the metric."""
    cluster_arn: pulumi.Input[str]
    """ECS cluster the worker runs in (the service's)."""
    cluster_name: pulumi.Input[str]
    """Name of that cluster, for autoscaling and metrics."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets the tasks run in."""
    security_group_id: pulumi.Input[str]
    """Security group of the tasks: no inbound, out to the proxy, the cache and AWS APIs."""
    image: pulumi.Input[str]
    """Digest-pinned image reference (the API's image)."""
    repository_arn: pulumi.Input[str]
    """ECR repository the execution role may pull from."""
    database_url: pulumi.Input[str]
    """DATABASE_URL through the proxy, without a password: the task signs in with an IAM token."""
    database_connect_arn: pulumi.Input[str]
    """The `rds-db:connect` resource the task role may use."""
    cache_connect_arns: Sequence[pulumi.Input[str]] = ()
    """The cache's replication group and user ARNs for `elasticache:Connect`; empty without a cache."""
    environment: Mapping[str, pulumi.Input[str]] = dataclasses.field(default_factory=dict)
    """Plain, non-secret environment variables (the same as the service's where they overlap)."""
    command: Sequence[str] = ("python", "-m", "groundwork_api.worker")
    """The worker's command in the image."""
    cpu: int = 256
    """Fargate CPU units of a task."""
    memory: int = 512
    """Fargate memory of a task in MiB."""
    min_count: int = 1
    """Autoscaling floor."""
    max_count: int = 4
    """Autoscaling ceiling."""
    backlog_per_task: int = 100
    """Waiting events per task that autoscaling keeps."""
    stop_timeout_seconds: int = MAX_STOP_TIMEOUT
    """Seconds a task has after SIGTERM to finish its job or hand it back before it is killed."""
    log_retention_days: int = 30
    """Retention of the worker's log group."""
    backlog_alarm: int = 1000
    """Waiting events that raise the alarm (the worker is down or cannot keep up)."""
    user: str = "10001:10001"
    """Non-root user and group the container runs as."""


class Worker(pulumi.ComponentResource):
    """An ECS service with no load balancer and no public address, rolled back when a deployment fails."""

    def __init__(self, name: str, args: WorkerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The worker's logs, kept for the configured period.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/groundwork/{name}", retention_in_days=args.log_retention_days, opts=child
        )
        # Role ECS uses to pull the image and write logs at task start.
        execution_role = aws.iam.Role(
            f"{name}-execution-role",
            assume_role_policy=assume_role_policy("ecs-tasks.amazonaws.com"),
            description=f"{name}: ECS task execution (image pull, logs)",
            opts=child,
        )
        # Image pull from this repository and this log group's streams; nothing else.
        execution = aws.iam.RolePolicy(
            f"{name}-execution-policy",
            role=execution_role.id,
            policy=pulumi.Output.all(args.repository_arn, self.log_group.arn).apply(
                lambda v: execution_policy(repository_arn=v[0], log_group_arn=v[1], secret_arns=[])
            ),
            opts=child,
        )
        # Role the worker's code runs as.
        task_role = aws.iam.Role(
            f"{name}-task-role",
            assume_role_policy=assume_role_policy("ecs-tasks.amazonaws.com"),
            description=f"{name}: the worker's own permissions",
            opts=child,
        )
        # Sign-in to the proxy and the cache as the application's user, and its backlog metric; nothing else.
        task = aws.iam.RolePolicy(
            f"{name}-task-policy",
            role=task_role.id,
            policy=pulumi.Output.all(args.database_connect_arn, *args.cache_connect_arns).apply(
                lambda v: worker_policy(database_connect_arn=v[0], cache_connect_arns=v[1:])
            ),
            opts=child,
        )
        environment = {
            "AWS_REGION": args.region,
            "DATABASE_SSLMODE": "verify-full",
            "DATABASE_IAM_AUTH": "true",
            "WORKER_METRIC_NAMESPACE": METRIC_NAMESPACE,
            **dict(args.environment),
        }
        definitions = pulumi.Output.all(
            args.image, self.log_group.name, args.database_url, pulumi.Output.from_input(environment)
        ).apply(
            lambda v: json.dumps(
                container_definitions(
                    image=v[0],
                    log_group=v[1],
                    region=args.region,
                    environment={**v[3], "WORKER_SERVICE": name},
                    database_url=v[2],
                    secrets={},
                    port=None,
                    health_check_path=None,
                    user=args.user,
                    name=CONTAINER_NAME,
                    command=args.command,
                    stop_timeout=args.stop_timeout_seconds,
                ),
                sort_keys=True,
            )
        )
        # The task: non-root, read-only root filesystem, the worker command of the API's image.
        self.task_definition = fargate_task(
            name,
            cpu=args.cpu,
            memory=args.memory,
            cpu_architecture="X86_64",
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            container_definitions=definitions,
            parent=self,
        )
        # The service: private tasks, no load balancer, rollback on failed deployments.
        self.service = aws.ecs.Service(
            f"{name}-service",
            cluster=args.cluster_arn,
            task_definition=self.task_definition.arn,
            launch_type="FARGATE",
            desired_count=args.min_count,
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            wait_for_steady_state=True,
            enable_execute_command=False,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            network_configuration={
                "subnets": list(args.subnet_ids),
                "security_groups": [args.security_group_id],
                "assign_public_ip": False,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[execution, task], ignore_changes=["desiredCount"]),
        )
        # Lets Application Auto Scaling change the worker's task count within the bounds.
        scaling_target = aws.appautoscaling.Target(
            f"{name}-scaling-target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", args.cluster_name, "/", self.service.name),
            min_capacity=args.min_count,
            max_capacity=args.max_count,
            opts=child,
        )
        # Scales on waiting events per running task, from the backlog the worker publishes.
        aws.appautoscaling.Policy(
            f"{name}-scale-backlog",
            policy_type="TargetTrackingScaling",
            service_namespace=scaling_target.service_namespace,
            scalable_dimension=scaling_target.scalable_dimension,
            resource_id=scaling_target.resource_id,
            target_tracking_scaling_policy_configuration={
                "target_value": args.backlog_per_task,
                "customized_metric_specification": {
                    "metrics": backlog_per_task_metrics(name, args.cluster_name, self.service.name)
                },
                "scale_in_cooldown": 300,
                "scale_out_cooldown": 60,
            },
            opts=child,
        )

        backlog = {"Service": name}
        self.alarm_specs = [
            AlarmSpec(
                "worker-backlog",
                f"More than {args.backlog_alarm} events wait for the worker",
                METRIC_NAMESPACE,
                BACKLOG_METRIC,
                backlog,
                "Maximum",
                args.backlog_alarm,
                periods=5,
            ),
        ]
        self.panels = [
            Panel("Worker backlog", [[METRIC_NAMESPACE, BACKLOG_METRIC, "Service", name, {"stat": "Maximum"}]]),
            Panel(
                "Worker CPU and tasks",
                [
                    [
                        "AWS/ECS",
                        "CPUUtilization",
                        "ClusterName",
                        args.cluster_name,
                        "ServiceName",
                        self.service.name,
                        {"stat": "Average"},
                    ],
                    [
                        "ECS/ContainerInsights",
                        "RunningTaskCount",
                        "ClusterName",
                        args.cluster_name,
                        "ServiceName",
                        self.service.name,
                        {"stat": "Average", "yAxis": "right"},
                    ],
                ],
            ),
        ]
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


def backlog_per_task_metrics(name: str, cluster_name: pulumi.Input[str], service_name: pulumi.Input[str]) -> list[dict]:
    """Metric math for target tracking: the published backlog divided by the worker's running tasks."""
    return [
        {
            "id": "backlog",
            "metric_stat": {
                "metric": {
                    "namespace": METRIC_NAMESPACE,
                    "metric_name": BACKLOG_METRIC,
                    "dimensions": [{"name": "Service", "value": name}],
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


def worker_policy(*, database_connect_arn: str, cache_connect_arns: Sequence[str]) -> str:
    """Least-privilege policy of the worker: its database user, its cache user, its own metric namespace."""
    statements: list[dict] = [
        {"Sid": "ConnectToDatabase", "Effect": "Allow", "Action": "rds-db:connect", "Resource": database_connect_arn},
        {
            "Sid": "PublishBacklog",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            # PutMetricData has no resource-level permissions; the namespace condition is the bound.
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
        },
    ]
    if cache_connect_arns:
        statements.append(
            {
                "Sid": "ConnectToCache",
                "Effect": "Allow",
                "Action": "elasticache:Connect",
                "Resource": sorted(cache_connect_arns),
            }
        )
    return policy_document(statements)


def _validate(args: WorkerArgs) -> None:
    """Raises ValueError naming the field and what is allowed."""
    require(args.cpu in FARGATE_SIZES, "cpu", args.cpu, ", ".join(map(str, FARGATE_SIZES)))
    allowed = FARGATE_SIZES[args.cpu]
    require(args.memory in allowed, "memory", args.memory, f"for cpu {args.cpu}: " + ", ".join(map(str, allowed)))
    require(
        1 <= args.min_count <= args.max_count,
        "max_count",
        args.max_count,
        f"at least min_count ({args.min_count}), min_count at least 1",
    )
    require(args.backlog_per_task >= 1, "backlog_per_task", args.backlog_per_task, "1 or more")
    require(
        2 <= args.stop_timeout_seconds <= MAX_STOP_TIMEOUT,
        "stop_timeout_seconds",
        args.stop_timeout_seconds,
        f"2 to {MAX_STOP_TIMEOUT}",
    )
    require(bool(args.command) and all(args.command), "command", list(args.command), "a non-empty command")
    require_log_retention(args.log_retention_days)
    require(args.user.split(":")[0] not in ("", "0", "root"), "user", args.user, "a non-root user such as 10001:10001")
