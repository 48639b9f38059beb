"""The real program planned for the plan, diff and policy tests, as committed or with deliberate breakage."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pulumi

from cli.plan.document import plan_document
from cli.plan.recorder import Recording, run
from stacks.settings import PROJECT_DIR
from tests.mocks import settings_for

Mutation = tuple[str, Callable[[str, dict[str, Any]], None]]


def _put(holder: Any, key: str, value: Any) -> None:
    """Sets a nested argument whether it is a dict or one of the provider's input classes."""
    if isinstance(holder, dict):
        holder[key] = value
    else:
        pulumi.set(holder, key, value)


def _containers(change: Callable[[dict[str, Any]], None]) -> Callable[[str, dict[str, Any]], None]:
    def mutate(_: str, props: dict[str, Any]) -> None:
        def edit(text: str) -> str:
            containers = json.loads(text)
            for container in containers:
                change(container)
            return json.dumps(containers)

        props["container_definitions"] = pulumi.Output.from_input(props["container_definitions"]).apply(edit)

    return mutate


def _detach(_: str, props: dict[str, Any]) -> None:
    props["bucket"] = "some-other-bucket"


def _only(suffix: str, change: Callable[[dict[str, Any]], None]) -> Callable[[str, dict[str, Any]], None]:
    def mutate(name: str, props: dict[str, Any]) -> None:
        if name.endswith(suffix):
            change(props)

    return mutate


def _set(**values: Any) -> Callable[[str, dict[str, Any]], None]:
    def mutate(_: str, props: dict[str, Any]) -> None:
        props.update(values)

    return mutate


_WILDCARD = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
_TRUST_ANYONE = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}}]}
)

MUTATIONS: dict[str, Mutation] = {
    "1": ("aws:rds/instance:Instance", _set(storage_encrypted=False)),
    "2": ("aws:rds/instance:Instance", _set(publicly_accessible=True)),
    "7": ("aws:rds/instance:Instance", _set(enabled_cloudwatch_logs_exports=["upgrade"])),
    "8": ("aws:rds/instance:Instance", _set(parameter_group_name="default.postgres17")),
    "9": ("aws:rds/instance:Instance", _set(auto_minor_version_upgrade=False)),
    "11": ("aws:rds/instance:Instance", _set(username="postgres")),
    "12": ("aws:rds/proxy:Proxy", _set(require_tls=False)),
    "13": ("aws:rds/proxy:Proxy", _set(debug_logging=True)),
    "14": ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", _detach),
    "15": ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", _detach),
    "16": ("aws:s3/bucketPolicy:BucketPolicy", _detach),
    "17": ("aws:s3/bucketVersioning:BucketVersioning", _detach),
    "18": ("aws:s3/bucketLogging:BucketLogging", _set(bucket="some-other-bucket", target_bucket="elsewhere")),
    "19": ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", _detach),
    "20": (
        "aws:lb/listener:Listener",
        _only("-http", lambda p: p.update(default_actions=[{"type": "forward", "target_group_arn": "arn:tg"}])),
    ),
    "21": ("aws:lb/listener:Listener", _only("-https", lambda p: p.update(ssl_policy="ELBSecurityPolicy-2016-08"))),
    "22": ("aws:lb/loadBalancer:LoadBalancer", _set(drop_invalid_header_fields=False)),
    "23": ("aws:lb/loadBalancer:LoadBalancer", _set(desync_mitigation_mode="monitor")),
    "24": ("aws:lb/loadBalancer:LoadBalancer", _set(access_logs={"bucket": "logs", "enabled": False})),
    "26": (
        "aws:lb/targetGroup:TargetGroup",
        _set(health_check={"enabled": True, "path": "/heartbeat", "matcher": "200-399"}),
    ),
    "27": ("aws:acm/certificate:Certificate", _set(key_algorithm="RSA_1024", validation_method="EMAIL")),
    "28": (
        "aws:ecs/service:Service",
        lambda _, p: _put(p["network_configuration"], "assign_public_ip", True),
    ),
    "29": ("aws:ecs/taskDefinition:TaskDefinition", _containers(lambda c: c.update(privileged=True))),
    "30": ("aws:ecs/taskDefinition:TaskDefinition", _containers(lambda c: c.update(readonlyRootFilesystem=False))),
    "31": (
        "aws:ecs/taskDefinition:TaskDefinition",
        _containers(lambda c: c["environment"].append({"name": "DB_PASSWORD", "value": "hunter2"})),
    ),
    "32": ("aws:ecs/taskDefinition:TaskDefinition", _containers(lambda c: c.pop("logConfiguration"))),
    "33": ("aws:ecs/cluster:Cluster", _set(settings=[])),
    "34": (
        "aws:ecs/service:Service",
        # The rolling worker stops waiting; the blue/green API loses the check that gates production.
        lambda name, p: p.update(
            wait_for_steady_state=False,
            **({"deployment_configuration": {"strategy": "BLUE_GREEN"}} if name.endswith("-api-service") else {}),
        ),
    ),
    "36": ("aws:ecr/lifecyclePolicy:LifecyclePolicy", _set(repository="some-other-repository")),
    "37": ("aws:cloudwatch/logGroup:LogGroup", _set(retention_in_days=None)),
    "38": ("aws:cloudwatch/metricAlarm:MetricAlarm", _set(alarm_actions=[])),
    "39": ("aws:secretsmanager/secretRotation:SecretRotation", _set(rotation_rules={"automatically_after_days": 120})),
    "40": ("aws:iam/rolePolicy:RolePolicy", _set(policy=_WILDCARD)),
    "41": ("aws:iam/role:Role", _set(assume_role_policy=_TRUST_ANYONE)),
    "42": (
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        _only("-service-to-proxy-in", lambda p: p.update(cidr_ipv4="0.0.0.0/0", referenced_security_group_id=None)),
    ),
}
"""Per control, one change to a resource's arguments inside the real program that the control must catch."""

SETTINGS_BREAKAGE: dict[str, tuple[str, Any]] = {
    "3": ("dbMultiAz", False),
    "4": ("dbBackupRetentionDays", 3),
    "5": ("dbDeletionProtection", False),
    "6": ("dbFinalSnapshot", False),
    "10": ("dbMonitoringIntervalSeconds", 0),
    "25": ("albDeletionProtection", False),
    "35": ("ecrImmutableTags", False),
    "39": ("secretRecoveryWindowDays", 0),
    "43": ("protect", False),
}
"""Per control, a prod setting (with protect off, which would refuse it) that the control must catch."""


def _transformation(mutations: tuple[str, ...]) -> Callable[[pulumi.ResourceTransformationArgs], Any]:
    by_type: dict[str, list[Callable[[str, dict[str, Any]], None]]] = {}
    for key in mutations:
        token, change = MUTATIONS[key]
        by_type.setdefault(token, []).append(change)

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        changes = by_type.get(args.type_)
        if not changes:
            return None
        props = dict(args.props)
        for change in changes:
            change(args.name, props)
        return pulumi.ResourceTransformationResult(props, args.opts)

    return transform


def record(stack: str, overrides: tuple[tuple[str, Any], ...] = (), mutations: tuple[str, ...] = ()) -> Recording:
    """The program run with settings overrides and argument mutations."""
    from stacks.program import build

    def program(settings: Any) -> dict[str, Any]:
        if mutations:
            pulumi.runtime.register_stack_transformation(_transformation(mutations))
        return build(settings)

    return run(settings_for(stack, **dict(overrides)), program)


@functools.cache
def planned(stack: str, overrides: tuple[tuple[str, Any], ...] = (), mutations: tuple[str, ...] = ()) -> dict[str, Any]:
    """The plan document of such a run, cached for the session."""
    return plan_document(record(stack, overrides, mutations), PROJECT_DIR)


def broken_by_arguments() -> dict[str, Any]:
    """Prod with every argument mutation applied at once."""
    return planned("prod", mutations=tuple(MUTATIONS))


def broken_by_settings() -> dict[str, Any]:
    """Prod with protect off and every settings breakage applied at once."""
    overrides = (("protect", False), *SETTINGS_BREAKAGE.values())
    return planned("prod", overrides=tuple(overrides))
