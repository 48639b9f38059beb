"""Schedules: EventBridge Scheduler runs the service's task with a command override, by cron or rate expression."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra import assume_role_policy, policy_document, require, type_token
from infra.keys import KeyArns
from infra.limits import EXPRESSION_HELP, SCHEDULE_NAME, command_problem, expression_problem, time_zone_known

TYPE = type_token("schedules", "Schedules")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScheduledJob:
    """One job: when it runs and the command it runs in the service's image."""

    name: str
    """Name of the schedule (letters, digits, . _ -)."""
    expression: str
    """rate(...), cron(...) or at(...) expression."""
    command: Sequence[str]
    """Command of the container, replacing the image's."""
    time_zone: str = "UTC"
    """IANA time zone the expression is read in."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class SchedulesArgs:
    """Inputs of Schedules."""

    cluster_arn: pulumi.Input[str]
    """ECS cluster the jobs run in."""
    task_definition_arn: pulumi.Input[str]
    """Task definition the jobs run (the service's)."""
    container_name: str
    """Container whose command is overridden."""
    pass_role_arns: Sequence[pulumi.Input[str]]
    """The task's execution and task roles, which the scheduler hands to ECS."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets the job tasks run in."""
    security_group_id: pulumi.Input[str]
    """Security group of the job tasks (no inbound)."""
    jobs: Sequence[ScheduledJob]
    """The jobs; an empty list declares nothing."""
    retry_attempts: int = 2
    """Times a failed start is retried."""
    keys: KeyArns = dataclasses.field(default_factory=KeyArns)
    """Customer keys to encrypt with (the stack's own on protected stacks); AWS-managed keys where None."""


class Schedules(pulumi.ComponentResource):
    """A schedule group, the role the scheduler assumes, and one schedule per job."""

    def __init__(self, name: str, args: SchedulesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        validate_jobs(args.jobs)
        require(0 <= args.retry_attempts <= 185, "retry_attempts", args.retry_attempts, "0 to 185")
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The stack's schedules, grouped so they are listed and removed together.
        group = aws.scheduler.ScheduleGroup(f"{name}-group", opts=child)
        # Role EventBridge Scheduler assumes to start the job tasks.
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("scheduler.amazonaws.com"),
            description=f"{name}: starts scheduled job tasks",
            opts=child,
        )
        # Run this task definition in this cluster and hand it its own roles; nothing else.
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(
                cluster_arn=args.cluster_arn,
                task_definition_arn=args.task_definition_arn,
                role_arns=list(args.pass_role_arns),
                key_arn=args.keys.scheduler,
            ).apply(lambda v: scheduler_policy(**v)),
            opts=child,
        )
        self.schedule_names: list[pulumi.Output[str]] = []
        for job in args.jobs:
            # The job: runs the service's task with its command, in the private subnets, without a public address.
            schedule = aws.scheduler.Schedule(
                f"{name}-{job.name}",
                group_name=group.name,
                schedule_expression=job.expression,
                schedule_expression_timezone=job.time_zone,
                kms_key_arn=args.keys.scheduler,
                flexible_time_window={"mode": "OFF"},
                target={
                    "arn": args.cluster_arn,
                    "role_arn": role.arn,
                    "ecs_parameters": {
                        "task_definition_arn": args.task_definition_arn,
                        "launch_type": "FARGATE",
                        "task_count": 1,
                        "network_configuration": {
                            "subnets": list(args.subnet_ids),
                            "security_groups": [args.security_group_id],
                            "assign_public_ip": False,
                        },
                    },
                    "input": json.dumps(
                        {"containerOverrides": [{"name": args.container_name, "command": list(job.command)}]},
                        sort_keys=True,
                    ),
                    "retry_policy": {
                        "maximum_retry_attempts": args.retry_attempts,
                        "maximum_event_age_in_seconds": 3600,
                    },
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )
            self.schedule_names.append(schedule.name)
        self.group_name = group.name
        self.register_outputs({"group_name": self.group_name, "schedule_names": self.schedule_names})


def validate_jobs(jobs: Sequence[ScheduledJob]) -> None:
    """Raises ValueError naming the job, the field and what is allowed."""
    seen: set[str] = set()
    for index, job in enumerate(jobs):
        where = f"jobs[{index}]"
        require(
            SCHEDULE_NAME.fullmatch(job.name or "") is not None,
            f"{where}.name",
            job.name,
            "1-64 letters, digits, . _ -",
        )
        require(job.name not in seen, f"{where}.name", job.name, "a name no other job has")
        seen.add(job.name)
        problem = expression_problem(job.expression)
        require(problem is None, f"{where}.expression", job.expression, f"{EXPRESSION_HELP} ({problem})")
        require(time_zone_known(job.time_zone), f"{where}.time_zone", job.time_zone, "an IANA zone such as UTC")
        problem = command_problem(job.command)
        require(problem is None, f"{where}.command", job.command, str(problem))


def scheduler_policy(
    *, cluster_arn: str, task_definition_arn: str, role_arns: Sequence[str], key_arn: str | None = None
) -> str:
    """Least-privilege policy of the scheduler's role: run one task family in one cluster, pass its two roles, and
    read the schedules' customer key when they have one."""
    family = task_definition_arn.rsplit(":", 1)[0]
    return policy_document(
        [
            {
                "Sid": "RunJobTask",
                "Effect": "Allow",
                "Action": "ecs:RunTask",
                "Resource": [family, f"{family}:*"],
                "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}},
            },
            {
                "Sid": "PassTaskRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": sorted(role_arns),
                "Condition": {"StringLike": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
            *(
                [{"Sid": "ReadScheduleKey", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn}]
                if key_arn
                else []
            ),
        ]
    )
