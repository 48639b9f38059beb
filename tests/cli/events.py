"""Engine event streams for the fake engine, built from the Automation API's own event classes."""

from __future__ import annotations

import itertools
from typing import Any

from pulumi.automation import events as ev

PROJECT = "groundwork"
_sequence = itertools.count(1)


def urn(stack: str, type_: str, name: str, parent: str = "") -> str:
    qualified = f"{parent}${type_}" if parent else type_
    return f"urn:pulumi:{stack}::{PROJECT}::{qualified}::{name}"


def _event(**kwargs: Any) -> ev.EngineEvent:
    return ev.EngineEvent(sequence=next(_sequence), timestamp=1_763_790_000, **kwargs)


def prelude() -> ev.EngineEvent:
    return _event(prelude_event=ev.PreludeEvent(config={"aws:region": "eu-west-1"}))


def _state(type_: str, resource_urn: str, *, protect: bool = False, outputs: dict | None = None) -> Any:
    return ev.StepEventStateMetadata(
        type=type_,
        urn=resource_urn,
        id=resource_urn.rsplit("::", 1)[-1] + "-id",
        parent="",
        provider="urn:pulumi:dev::groundwork::pulumi:providers:aws::default::0",
        custom=True,
        protect=protect,
        outputs=outputs or {},
    )


def _meta(
    op: ev.OpType,
    resource_urn: str,
    type_: str,
    *,
    diffs: list[str] | None = None,
    detailed: dict[str, ev.DiffKind] | None = None,
    protect: bool = False,
) -> ev.StepEventMetadata:
    state = _state(type_, resource_urn, protect=protect)
    return ev.StepEventMetadata(
        op=op,
        urn=resource_urn,
        type=type_,
        provider="urn:pulumi:dev::groundwork::pulumi:providers:aws::default::0",
        old=None if op == ev.OpType.CREATE else state,
        new=None if op == ev.OpType.DELETE else state,
        diffs=diffs,
        detailed_diff={k: ev.PropertyDiff(diff_kind=v, input_diff=True) for k, v in (detailed or {}).items()},
    )


def step(op: ev.OpType, resource_urn: str, type_: str, *, planning: bool = False, **kw: Any) -> list[ev.EngineEvent]:
    """A resource step: the pre event and, when it completes, the outputs event."""
    meta = _meta(op, resource_urn, type_, **kw)
    return [
        _event(resource_pre_event=ev.ResourcePreEvent(metadata=meta, planning=planning or None)),
        _event(res_outputs_event=ev.ResOutputsEvent(metadata=meta, planning=planning or None)),
    ]


def failed(op: ev.OpType, resource_urn: str, type_: str, message: str) -> list[ev.EngineEvent]:
    """A step that starts, reports an error diagnostic, and fails."""
    meta = _meta(op, resource_urn, type_)
    return [
        _event(resource_pre_event=ev.ResourcePreEvent(metadata=meta)),
        _event(
            diagnostic_event=ev.DiagnosticEvent(
                message=f"<{{%reset%}}>{message}<{{%reset%}}>\n", color="raw", severity="error", urn=resource_urn
            )
        ),
        _event(res_op_failed_event=ev.ResOpFailedEvent(metadata=meta, status=1, steps=1)),
    ]


def diagnostic(message: str, severity: str = "warning", *, ephemeral: bool = False) -> ev.EngineEvent:
    return _event(
        diagnostic_event=ev.DiagnosticEvent(message=message, color="raw", severity=severity, ephemeral=ephemeral)
    )


def summary(changes: dict[ev.OpType, int], seconds: int = 42) -> ev.EngineEvent:
    return _event(
        summary_event=ev.SummaryEvent(
            maybe_corrupt=False,
            duration_seconds=seconds,
            resource_changes={op.value: n for op, n in changes.items()},
            policy_packs={},
        )
    )


def stack_step(stack: str, op: ev.OpType, planning: bool = False) -> list[ev.EngineEvent]:
    return step(op, urn(stack, "pulumi:pulumi:Stack", f"{PROJECT}-{stack}"), "pulumi:pulumi:Stack", planning=planning)


VPC = "aws:ec2/vpc:Vpc"
DB = "aws:rds/instance:Instance"
PROXY = "aws:rds/proxy:Proxy"
BUCKET = "aws:s3/bucketV2:BucketV2"
SERVICE = "aws:ecs/service:Service"
TASKDEF = "aws:ecs/taskDefinition:TaskDefinition"


def first_deploy(stack: str, planning: bool) -> list[ev.EngineEvent]:
    """A new stack: everything is created; a provider warning along the way."""
    events = [prelude(), *stack_step(stack, ev.OpType.CREATE, planning)]
    for type_, name in ((VPC, "main-vpc"), (DB, "main-db"), (PROXY, "main-proxy"), (BUCKET, "main-app-bucket")):
        events += step(ev.OpType.CREATE, urn(stack, type_, name), type_, planning=planning)
    events.append(diagnostic("<{%fg 3%}>aws: the default VPC is not used<{%reset%}>"))
    events.append(summary({ev.OpType.CREATE: 5}))
    return events


def image_update(stack: str, planning: bool) -> list[ev.EngineEvent]:
    """A new image: the task definition is replaced, the service updated, the rest unchanged."""
    task = urn(stack, TASKDEF, "main-task")
    events = [prelude(), *stack_step(stack, ev.OpType.SAME, planning)]
    events += step(ev.OpType.SAME, urn(stack, VPC, "main-vpc"), VPC, planning=planning)
    events += step(ev.OpType.SAME, urn(stack, DB, "main-db"), DB, planning=planning, protect=True)
    events += step(ev.OpType.CREATE_REPLACEMENT, task, TASKDEF, planning=planning, diffs=["containerDefinitions"])
    events += step(
        ev.OpType.REPLACE,
        task,
        TASKDEF,
        planning=planning,
        diffs=["containerDefinitions"],
        detailed={"containerDefinitions": ev.DiffKind.UPDATE_REPLACE},
    )
    events += step(
        ev.OpType.UPDATE,
        urn(stack, SERVICE, "main-service"),
        SERVICE,
        planning=planning,
        diffs=["taskDefinition"],
        detailed={"taskDefinition": ev.DiffKind.UPDATE},
    )
    events += step(ev.OpType.DELETE_REPLACED, task, TASKDEF, planning=planning)
    events.append(summary({ev.OpType.SAME: 3, ev.OpType.REPLACE: 1, ev.OpType.UPDATE: 1}))
    return events


def nothing_to_do(stack: str, planning: bool) -> list[ev.EngineEvent]:
    events = [prelude(), *stack_step(stack, ev.OpType.SAME, planning)]
    events += step(ev.OpType.SAME, urn(stack, VPC, "main-vpc"), VPC, planning=planning)
    events.append(summary({ev.OpType.SAME: 2}))
    return events


def failing_deploy(stack: str) -> list[ev.EngineEvent]:
    """The database cannot be created: an error diagnostic, a failed step, the rest done."""
    events = [prelude(), *stack_step(stack, ev.OpType.CREATE)]
    events += step(ev.OpType.CREATE, urn(stack, VPC, "main-vpc"), VPC)
    events += failed(
        ev.OpType.CREATE,
        urn(stack, DB, "main-db"),
        DB,
        "creating RDS DB Instance (main-db): InvalidParameterCombination: db.t4g.micro does not support Multi-AZ",
    )
    events.append(summary({ev.OpType.CREATE: 2}))
    return events


def teardown(stack: str, resources: list[tuple[str, str]]) -> list[ev.EngineEvent]:
    events = [prelude()]
    for type_, name in resources:
        events += step(ev.OpType.DELETE, urn(stack, type_, name), type_)
    events += stack_step(stack, ev.OpType.DELETE)
    events.append(summary({ev.OpType.DELETE: len(resources) + 1}))
    return events


def drift(stack: str) -> list[ev.EngineEvent]:
    """Refresh: the bucket changed outside Pulumi, the rest is as recorded."""
    events = [prelude(), *stack_step(stack, ev.OpType.SAME)]
    events += step(ev.OpType.REFRESH, urn(stack, VPC, "main-vpc"), VPC)
    events += step(ev.OpType.UPDATE, urn(stack, BUCKET, "main-app-bucket"), BUCKET, diffs=["tags"])
    events.append(summary({ev.OpType.SAME: 2, ev.OpType.UPDATE: 1}))
    return events
