"""FargateTask: one Fargate workload (log group, roles, task definition, ECS service, autoscaling), API or worker."""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from infra import assume_role_policy, policy_document, require, require_log_retention, type_token
from infra.keys import KeyArns, secrets_key_use
from infra.limits import (
    BAKE_TIME_MAX_MINUTES,
    FARGATE_MAX_STOP_TIMEOUT_SECONDS,
    FARGATE_SIZES,
    SECRET_NAME_TEXT,
    fargate_memory_text,
    holds_secret,
)

TYPE = type_token("task", "FargateTask")


class _Cooldowns(TypedDict):
    scale_in_cooldown: int
    scale_out_cooldown: int


_COOLDOWNS: _Cooldowns = {"scale_in_cooldown": 300, "scale_out_cooldown": 60}
_FIRST_DECLARED_HERE = frozenset({"requests-alt"})
"""Policies first declared under FargateTask, never under its owner: nothing to alias."""
HOOK_STAGES = ("POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT")
"""Lifecycle stages after which the test listener reaches green, so a check through it checks the release."""


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
    """Load-balancer requests per task per minute kept, in each target group the tasks may serve from."""
    request_count_labels: Sequence[pulumi.Input[str]] = ()
    """`<alb arn suffix>/<target group arn suffix>` per target group (blue/green: both), a policy each (`-alt`)."""
    backlog: Backlog | None = None
    """A published backlog kept per running task (policy `<name>-scale-backlog`)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class BlueGreenArgs:
    """ECS's blue/green deployment of a service behind the load balancer: green's tasks start in the other target
    group, take the test listener's traffic, pass the check at the hook's stage, then take production's traffic."""

    alternate_target_group_arn: pulumi.Input[str]
    """The second target group, attached to the same listener rules as the first."""
    production_listener_rule_arn: pulumi.Input[str]
    """The rule whose weights ECS moves from blue's target group to green's."""
    test_listener_rule_arn: pulumi.Input[str]
    """The rule of the test listener, which ECS points at green before production moves."""
    load_balancer_role_arn: pulumi.Input[str]
    """The infrastructure role ECS moves targets and weights with."""
    hook_function_arn: pulumi.Input[str]
    """The check ECS invokes at `hook_stage`; its FAILED rolls the deployment back."""
    hook_role_arn: pulumi.Input[str]
    """The role ECS invokes the check with."""
    hook_stage: str = "POST_TEST_TRAFFIC_SHIFT"
    """The lifecycle stage of the check."""
    bake_time_minutes: int = 5
    """Minutes blue's tasks stay up after production moved, so a rollback is a switch back, not a redeploy."""
    ready: Sequence[pulumi.Resource] = ()
    """What must exist before the service: the roles' policies."""


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
    blue_green: BlueGreenArgs | None = None
    """Deploy behind the load balancer with ECS's blue/green strategy; None deploys rolling."""
    cpu: int = 256
    """Fargate CPU units of a task."""
    memory: int = 512
    """Fargate memory of a task in MiB."""
    cpu_architecture: str = "X86_64"
    """CPU architecture of the task; must match the image's platform."""
    log_retention_days: int = 30
    """Retention of the container log group."""
    keys: KeyArns = dataclasses.field(default_factory=KeyArns)
    """Customer keys to encrypt with (the stack's own on protected stacks); AWS-managed keys where None."""


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
            f"{name}-logs",
            name=f"/groundwork/{name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.keys.logs,
            opts=self._moved,
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
                secrets_key_arn=args.keys.secrets,
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
        port = args.container.port  # validated: set whenever target_group_arn is
        blue_green = args.blue_green
        load_balancers: list[aws.ecs.ServiceLoadBalancerArgsDict] | None = None
        if args.target_group_arn is not None and port is not None:
            load_balancer: aws.ecs.ServiceLoadBalancerArgsDict = {
                "target_group_arn": args.target_group_arn,
                "container_name": args.container.name,
                "container_port": port,
            }
            if blue_green is not None:
                # ECS moves the tasks between the two target groups by reweighting the production and test rules.
                load_balancer["advanced_configuration"] = {
                    "alternate_target_group_arn": blue_green.alternate_target_group_arn,
                    "production_listener_rule": blue_green.production_listener_rule_arn,
                    "test_listener_rule": blue_green.test_listener_rule_arn,
                    "role_arn": blue_green.load_balancer_role_arn,
                }
            load_balancers = [load_balancer]
        # The service: private tasks, rollback on failed deployments (the circuit breaker; with blue/green the check
        # too), and, rolling, waits until the new tasks are healthy.
        return aws.ecs.Service(
            f"{name}-service",
            cluster=args.cluster_arn,
            task_definition=self.task_definition.arn,
            launch_type="FARGATE",
            desired_count=args.scaling.min_count if args.desired_count is None else args.desired_count,
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_configuration=_blue_green_deployment(blue_green) if blue_green else None,
            # A blue/green release waits at its check for the migration `infra up` runs after the apply, so the
            # apply must not wait for it; `infra up` follows the deployment to its end instead.
            wait_for_steady_state=blue_green is None,
            health_check_grace_period_seconds=60 if behind_load_balancer else None,
            enable_execute_command=False,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            network_configuration={
                "subnets": list(args.subnet_ids),
                "security_groups": [args.security_group_id],
                "assign_public_ip": False,
            },
            load_balancers=load_balancers,
            opts=pulumi.ResourceOptions.merge(
                self._moved,
                pulumi.ResourceOptions(
                    depends_on=[self.execution_policy, self.task_policy, *(blue_green.ready if blue_green else ())],
                    ignore_changes=["desiredCount"],
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
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=value, **metric, **_COOLDOWNS
                ),
                opts=pulumi.ResourceOptions(parent=self) if kind in _FIRST_DECLARED_HERE else self._moved,
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
            # AWS scales out if any policy asks and in only if all agree: the live target group's decides.
            for kind, label in zip(("requests", "requests-alt"), scaling.request_count_labels, strict=False):
                requests = {"predefined_metric_type": "ALBRequestCountPerTarget", "resource_label": label}
                tracked.append((kind, scaling.requests_per_task, {"predefined_metric_specification": requests}))
        if scaling.backlog is not None:
            backlog = {"metrics": backlog_per_task_metrics(scaling.backlog, args.cluster_name, self.service.name)}
            tracked.append(("backlog", scaling.backlog.per_task, {"customized_metric_specification": backlog}))
        return tracked


def _blue_green_deployment(blue_green: BlueGreenArgs) -> aws.ecs.ServiceDeploymentConfigurationArgsDict:
    """ECS's BLUE_GREEN strategy with the bake time and the check at its stage (the bake time is a string here)."""
    return {
        "strategy": "BLUE_GREEN",
        "bake_time_in_minutes": str(blue_green.bake_time_minutes),
        "lifecycle_hooks": [
            {
                "hook_target_arn": blue_green.hook_function_arn,
                "role_arn": blue_green.hook_role_arn,
                "lifecycle_stages": [blue_green.hook_stage],
            }
        ],
    }


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


def execution_policy(
    *, repository_arn: str, log_group_arn: str, secret_arns: Sequence[str], secrets_key_arn: str | None = None
) -> str:
    """Least-privilege policy of the task execution role; secrets are read only when the task has some (IAM refuses
    a statement whose Resource list is empty), and decrypted with their customer key when they have one."""
    statements = [
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
    ]
    if secret_arns:
        statements.append(
            {
                "Sid": "ReadSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": sorted(secret_arns),
            }
        )
        statements += secrets_key_use(secrets_key_arn, ("kms:Decrypt",))
    return policy_document(statements)


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
    if args.blue_green is not None:
        require(
            args.target_group_arn is not None,
            "blue_green",
            "without target_group_arn",
            "a service behind a load balancer",
        )
        bake = args.blue_green.bake_time_minutes
        require(0 <= bake <= BAKE_TIME_MAX_MINUTES, "bake_time_minutes", bake, f"0 to {BAKE_TIME_MAX_MINUTES}")
        stage = args.blue_green.hook_stage
        require(stage in HOOK_STAGES, "hook_stage", stage, ", ".join(HOOK_STAGES))
    groups = 2 if args.blue_green is not None else 1
    require(
        scaling.requests_per_task is None or len(scaling.request_count_labels) == groups,
        "request_count_labels",
        f"{len(scaling.request_count_labels)} labels",
        f"{groups} when requests_per_task is set (one per target group the service deploys to)",
    )
