"""Worker: background jobs on ECS Fargate from the API's image, no load balancer, scaled on its queue's backlog."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pulumi

from infra import policy_document, require, type_token
from infra.dashboards import AlarmSpec
from infra.keys import KeyArns
from infra.limits import FARGATE_MAX_STOP_TIMEOUT_SECONDS
from infra.panels import Metric, Panel
from infra.task import Backlog, Container, FargateTask, FargateTaskArgs, Scaling, require_task_shape

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
    keys: KeyArns = dataclasses.field(default_factory=KeyArns)
    """Customer keys to encrypt with (the stack's own on protected stacks); AWS-managed keys where None."""
    backlog_alarm: int = 1000
    """Waiting events that raise the alarm (the worker is down or cannot keep up)."""
    user: str = "10001:10001"
    """Non-root user and group the container runs as."""


class Worker(pulumi.ComponentResource):
    """An ECS service with no load balancer and no public address, rolled back when a deployment fails."""

    def __init__(self, name: str, args: WorkerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__(TYPE, name, None, opts)
        self.task = self._task(name, args)
        self.alarm_specs = self._alarms(name, args)
        self.panels = self._panels(name, args)

        self.service = self.task.service
        self.task_definition = self.task.task_definition
        self.log_group = self.task.log_group
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

    def _task(self, name: str, args: WorkerArgs) -> FargateTask:
        """The worker's task: no load balancer, scaled on its backlog per running task."""
        container = Container(
            name=CONTAINER_NAME,
            image=args.image,
            database_url=args.database_url,
            environment={
                "AWS_REGION": args.region,
                "DATABASE_SSLMODE": "verify-full",
                "DATABASE_IAM_AUTH": "true",
                "WORKER_METRIC_NAMESPACE": METRIC_NAMESPACE,
                **dict(args.environment),
                "WORKER_SERVICE": name,
            },
            command=args.command,
            stop_timeout_seconds=args.stop_timeout_seconds,
            user=args.user,
        )
        # Sign-in to the proxy and the cache as the application's user, and its backlog metric; nothing else.
        policy = pulumi.Output.all(
            database_connect_arn=args.database_connect_arn, cache_connect_arns=list(args.cache_connect_arns)
        ).apply(lambda v: worker_policy(**v))
        backlog = Backlog(
            namespace=METRIC_NAMESPACE,
            metric_name=BACKLOG_METRIC,
            dimensions={"Service": name},
            per_task=args.backlog_per_task,
        )
        # The task: non-root, read-only root filesystem, the worker command of the API's image.
        return FargateTask(
            name,
            FargateTaskArgs(
                region=args.region,
                cluster_arn=args.cluster_arn,
                cluster_name=args.cluster_name,
                subnet_ids=args.subnet_ids,
                security_group_id=args.security_group_id,
                repository_arn=args.repository_arn,
                container=container,
                task_role_policy=policy,
                task_role_description="the worker's own permissions",
                scaling=Scaling(min_count=args.min_count, max_count=args.max_count, backlog=backlog),
                cpu=args.cpu,
                memory=args.memory,
                log_retention_days=args.log_retention_days,
                keys=args.keys,
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _alarms(self, name: str, args: WorkerArgs) -> list[AlarmSpec]:
        """The alarm Monitoring declares for the worker: its backlog grows."""
        return [
            AlarmSpec(
                "worker-backlog",
                f"More than {args.backlog_alarm} events wait for the worker",
                METRIC_NAMESPACE,
                BACKLOG_METRIC,
                {"Service": name},
                "Maximum",
                args.backlog_alarm,
                periods=5,
            ),
        ]

    def _panels(self, name: str, args: WorkerArgs) -> list[Panel]:
        """The worker's dashboard panels: its backlog, its CPU and running tasks."""
        ecs = {"ClusterName": args.cluster_name, "ServiceName": self.task.service.name}
        return [
            Panel("Worker backlog", [Metric(METRIC_NAMESPACE, BACKLOG_METRIC, {"Service": name}, "Maximum")]),
            Panel(
                "Worker CPU and tasks",
                [
                    Metric("AWS/ECS", "CPUUtilization", ecs, "Average"),
                    Metric("ECS/ContainerInsights", "RunningTaskCount", ecs, "Average", right_axis=True),
                ],
            ),
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
    require_task_shape(cpu=args.cpu, memory=args.memory, user=args.user, log_retention_days=args.log_retention_days)
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
