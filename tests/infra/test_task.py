"""FargateTask: the children it took over from Service and Worker keep their identity through aliases; its checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cli.plan import recorder
from infra import task
from tests.mocks import Recording, run, settings_for

MOVED_SUFFIXES = {
    "aws:cloudwatch/logGroup:LogGroup": ["logs"],
    "aws:iam/role:Role": ["execution-role", "task-role"],
    "aws:iam/rolePolicy:RolePolicy": ["execution-policy", "task-policy"],
    "aws:ecs/taskDefinition:TaskDefinition": ["task"],
    "aws:ecs/service:Service": ["service"],
    "aws:appautoscaling/target:Target": ["scaling-target"],
}
"""What every FargateTask holds, by type: the name suffixes after its owner's name."""
SCALING_POLICIES = {"api": ["scale-cpu", "scale-requests"], "worker": ["scale-backlog"]}
NEW_UNDER_TASK = {"api": ["scale-requests-alt"]}
"""Children first declared under FargateTask (the second target group's request policy): no former parent."""
POLICY = "aws:appautoscaling/policy:Policy"
OWNERS = {"api": "groundwork:service:Service", "worker": "groundwork:worker:Worker"}
"""Where those children were declared before FargateTask existed: each owner's name suffix and type."""


@pytest.fixture(scope="module")
def dev_with_aliases() -> tuple[Recording, dict[str, list[Any]]]:
    """The dev stack recorded with the aliases each registration carried, by URN."""
    aliases: dict[str, list[Any]] = {}
    original: Callable[..., recorder.Recorded] = recorder._recorded

    def keeping_aliases(request: Any, response: Any, state: dict[str, Any]) -> recorder.Recorded:
        aliases[response.urn] = list(request.aliases)
        return original(request, response, state)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recorder, "_recorded", keeping_aliases)
        recording = run(settings_for("dev"))
    return recording, aliases


def test_every_moved_child_has_an_alias_to_the_parent_it_had(dev_with_aliases) -> None:
    rec, aliases = dev_with_aliases
    by_urn = {r.urn: r for r in rec.resources}
    old_identities = set()
    for fargate in rec.of_type(task.TYPE):
        owner = by_urn[fargate.parent]
        assert fargate.name == owner.name, "the task takes its owner's name, so its children keep theirs"
        assert aliases[fargate.urn] == [], "the component itself is new: nothing to alias"
        for child in rec.children(fargate):
            if any(child.name == f"{owner.name}-{s}" for suffixes in NEW_UNDER_TASK.values() for s in suffixes):
                assert aliases[child.urn] == [], child.urn
                continue
            (alias,) = aliases[child.urn]
            assert alias.WhichOneof("alias") == "spec", child.urn
            # Same name, same type (empty means the resource's own), the owner as parent: the URN it had.
            assert (alias.spec.name, alias.spec.type, alias.spec.parentUrn) == ("", "", owner.urn), child.urn
            old_identities.add((owner.type, child.type, child.name))
    expected = {
        (owner_type, kind, f"gw-dev-{owner}-{suffix}")
        for owner, owner_type in OWNERS.items()
        for kind, suffixes in {**MOVED_SUFFIXES, "aws:appautoscaling/policy:Policy": SCALING_POLICIES[owner]}.items()
        for suffix in suffixes
    }
    assert old_identities == expected


def test_no_other_resource_was_moved(dev_with_aliases) -> None:
    rec, aliases = dev_with_aliases
    under_tasks = {r.urn for fargate in rec.of_type(task.TYPE) for r in rec.children(fargate)}
    new = {urn for urn in under_tasks if any(urn.endswith(f"-{s}") for ss in NEW_UNDER_TASK.values() for s in ss)}
    assert len(new) == 1
    under_tasks -= new
    # Provider packages alias some resources to their former type tokens; only a move names another parent.
    moved = {urn for urn, found in aliases.items() if any(a.spec.parentUrn or a.spec.noParent for a in found)}
    assert moved == under_tasks


def test_a_task_without_a_parent_declares_no_alias() -> None:
    aliases: dict[str, list[Any]] = {}
    original = recorder._recorded

    def keeping_aliases(request: Any, response: Any, state: dict[str, Any]) -> recorder.Recorded:
        aliases[response.urn] = list(request.aliases)
        return original(request, response, state)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recorder, "_recorded", keeping_aliases)
        rec = run(settings_for("dev"), lambda _settings: (task.FargateTask("t", _args()), {})[1])
    assert len(rec.resources) == 1 + 9
    assert not any(a.spec.parentUrn or a.spec.noParent for found in aliases.values() for a in found)


def _args(**changes: Any) -> task.FargateTaskArgs:
    container = task.Container(
        name="c", image="img", database_url="postgresql://app@proxy:5432/app", port=changes.pop("port", None)
    )
    base: dict[str, Any] = dict(
        region="eu-west-1",
        cluster_arn="arn:aws:ecs:eu-west-1:123456789012:cluster/c",
        cluster_name="c",
        subnet_ids=["subnet-a"],
        security_group_id="sg",
        repository_arn="arn:aws:ecr:eu-west-1:123456789012:repository/r",
        container=container,
        task_role_policy='{"Version": "2012-10-17", "Statement": []}',
        task_role_description="tests",
        scaling=task.Scaling(min_count=1, max_count=2, cpu_percent=50),
    )
    return task.FargateTaskArgs(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cpu": 300}, "cpu=300 is not allowed"),
        ({"memory": 4096}, "memory=4096 is not allowed; allowed: for cpu 256"),
        ({"cpu_architecture": "MIPS"}, "cpu_architecture='MIPS'"),
        ({"desired_count": 3}, "desired_count=3 is not allowed; allowed: from min_count (1) to max_count (2)"),
        ({"scaling": task.Scaling(min_count=0, max_count=2)}, "desired_count=0"),
        ({"target_group_arn": "arn:tg"}, "container.port=None is not allowed; allowed: a port when target_group_arn"),
        (
            {"scaling": task.Scaling(min_count=1, max_count=2, requests_per_task=10)},
            "request_count_labels='0 labels' is not allowed; allowed: 1 when requests_per_task is set",
        ),
        ({"log_retention_days": 10}, "log_retention_days=10"),
    ],
)
def test_bad_arguments_name_the_field_and_what_is_allowed(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        task.validate(_args(**changes))


def test_a_root_user_and_a_long_stop_timeout_are_refused() -> None:
    root = task.Container(name="c", image="i", database_url="postgresql://app@p/app", user="0:0")
    with pytest.raises(ValueError, match="user='0:0' is not allowed; allowed: a non-root user"):
        task.validate(_args(container=root))
    slow = task.Container(name="c", image="i", database_url="postgresql://app@p/app", stop_timeout_seconds=121)
    with pytest.raises(ValueError, match="stop_timeout_seconds=121 is not allowed; allowed: 2 to 120"):
        task.validate(_args(container=slow))


def test_backlog_metric_math_divides_by_running_tasks_of_this_service() -> None:
    backlog = task.Backlog(namespace="N", metric_name="Depth", dimensions={"Queue": "q"}, per_task=5)
    metrics = task.backlog_per_task_metrics(backlog, "cluster", "service")
    by_id = {m["id"]: m for m in metrics}
    assert by_id["backlog"]["metric_stat"]["metric"]["dimensions"] == [{"name": "Queue", "value": "q"}]
    tasks = by_id["tasks"]["metric_stat"]["metric"]["dimensions"]
    assert tasks == [{"name": "ClusterName", "value": "cluster"}, {"name": "ServiceName", "value": "service"}]
    assert [m["return_data"] for m in metrics] == [False, False, True]


def _blue_green() -> task.BlueGreenArgs:
    return task.BlueGreenArgs(
        alternate_target_group_arn="arn:tg-alt",
        production_listener_rule_arn="arn:rule",
        test_listener_rule_arn="arn:test-rule",
        load_balancer_role_arn="arn:role",
        hook_function_arn="arn:function",
        hook_role_arn="arn:hook-role",
    )


@pytest.mark.parametrize(
    ("labels", "blue_green", "message"),
    [
        (["app/a/1/targetgroup/tg/1"], True, "request_count_labels='1 labels' is not allowed; allowed: 2 when"),
        (["app/a/1/targetgroup/tg/1", "app/a/1/targetgroup/tg-alt/2"], False, "'2 labels' is not allowed; allowed: 1"),
    ],
)
def test_request_scaling_names_each_target_group_the_service_deploys_to(
    labels: list[str], blue_green: bool, message: str
) -> None:
    scaling = task.Scaling(min_count=1, max_count=2, requests_per_task=10, request_count_labels=labels)
    changes: dict[str, Any] = {"port": 8000, "target_group_arn": "arn:tg", "scaling": scaling}
    with pytest.raises(ValueError, match=message):
        task.validate(_args(**changes, blue_green=_blue_green() if blue_green else None))


def test_blue_green_request_scaling_has_one_policy_per_target_group() -> None:
    labels = ["app/a/1/targetgroup/tg/1", "app/a/1/targetgroup/tg-alt/2"]
    scaling = task.Scaling(min_count=1, max_count=2, cpu_percent=50, requests_per_task=10, request_count_labels=labels)
    args = _args(port=8000, target_group_arn="arn:tg", scaling=scaling, blue_green=_blue_green())
    rec = run(settings_for("dev"), lambda _settings: (task.FargateTask("t", args), {})[1])
    policies = {p.name: p["targetTrackingScalingPolicyConfiguration"] for p in rec.of_type(POLICY)}
    assert set(policies) == {"t-scale-cpu", "t-scale-requests", "t-scale-requests-alt"}
    for name, label in (("t-scale-requests", labels[0]), ("t-scale-requests-alt", labels[1])):
        spec = policies[name]["predefinedMetricSpecification"]
        assert spec == {"predefinedMetricType": "ALBRequestCountPerTarget", "resourceLabel": label}, name
        assert policies[name]["targetValue"] == 10, name
    assert policies["t-scale-cpu"]["predefinedMetricSpecification"]["predefinedMetricType"] == (
        "ECSServiceAverageCPUUtilization"
    )
