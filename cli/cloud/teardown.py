"""Destroy: what the state says will go, which of it holds data, and the confirmation a stack demands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cli.cloud.operations import drive
from cli.core import resource_types
from cli.core.changes import DATA_TYPES, STACK_TYPE, ChangeReport, urn_name

if TYPE_CHECKING:
    from rich.console import Console

    from cli.cloud.engine import Engine
    from cli.core.stack_ref import StackRef

DATABASE_TYPES = (resource_types.RDS_INSTANCE, resource_types.RDS_CLUSTER)


@dataclass(frozen=True)
class StateResource:
    """A cloud resource recorded in the stack's state."""

    urn: str
    type: str
    id: str
    protect: bool

    @property
    def name(self) -> str:
        return urn_name(self.urn)

    @property
    def data_kind(self) -> str | None:
        return DATA_TYPES.get(self.type)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "type": self.type, "id": self.id, "protected": self.protect}
        if self.data_kind:
            doc["holds_data"] = self.data_kind
        return doc


@dataclass(frozen=True)
class FinalSnapshot:
    """The snapshot RDS takes when a database is deleted, or why there is none."""

    database: str
    snapshot: str | None
    note: str

    def to_json(self) -> dict[str, Any]:
        return {"database": self.database, "snapshot": self.snapshot, "note": self.note}


@dataclass
class DestroyPlan:
    """Everything destroy would touch, read from the exported state without running the program."""

    stack: str
    resources: list[StateResource] = field(default_factory=list)
    snapshots: list[FinalSnapshot] = field(default_factory=list)

    @property
    def deleted(self) -> list[StateResource]:
        return [r for r in self.resources if not r.protect]

    @property
    def kept(self) -> list[StateResource]:
        return [r for r in self.resources if r.protect]

    @property
    def data(self) -> list[StateResource]:
        return [r for r in self.resources if r.data_kind]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "delete": [r.to_json() for r in self.deleted],
            "kept_protected": [r.to_json() for r in self.kept],
            "holds_data": [r.to_json() for r in self.data],
            "final_snapshots": [s.to_json() for s in self.snapshots],
        }


def _final_snapshot(resource: StateResource, outputs: dict[str, Any]) -> FinalSnapshot:
    if resource.protect:
        return FinalSnapshot(resource.name, None, "protected: the database stays, so no snapshot is taken")
    if outputs.get("skipFinalSnapshot"):
        return FinalSnapshot(resource.name, None, "skip_final_snapshot is set: the data is NOT kept")
    name = outputs.get("finalSnapshotIdentifier")
    if not name:
        return FinalSnapshot(resource.name, None, "no final snapshot identifier is set; AWS will refuse the delete")
    return FinalSnapshot(resource.name, str(name), "taken by RDS when the database is deleted")


def plan_from_state(stack: str, deployment: dict[str, Any]) -> DestroyPlan:
    """Read the exported deployment: cloud resources, their protection, and the final database snapshots."""
    plan = DestroyPlan(stack=stack)
    for raw in deployment.get("resources") or []:
        kind = raw.get("type", "")
        if kind == STACK_TYPE or kind.startswith("pulumi:providers:") or not raw.get("custom", False):
            continue
        resource = StateResource(
            urn=raw.get("urn", ""), type=kind, id=str(raw.get("id", "")), protect=bool(raw.get("protect"))
        )
        plan.resources.append(resource)
        if kind in DATABASE_TYPES:
            plan.snapshots.append(_final_snapshot(resource, raw.get("outputs") or {}))
    return plan


@dataclass
class DestroyOutcome:
    plan: DestroyPlan
    confirmed_by: str | None
    report: ChangeReport | None

    def destroyed(self) -> list[str]:
        """Names of the resources the engine reported deleted."""
        if self.report is None:
            return []
        return [r.name for r in self.report.resources.values() if r.op == "delete" and r.status == "done"]

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"ok": True, "stack": self.plan.stack, "plan": self.plan.to_json()}
        doc["confirmed_by"] = self.confirmed_by
        doc["report"] = self.report.to_json() if self.report else None
        doc["destroyed"] = self.destroyed()
        doc["final_snapshots"] = [s.to_json() for s in self.plan.snapshots if s.snapshot]
        return doc


def destroy(
    engine: Engine,
    target: StackRef,
    console: Console,
    *,
    spinner: bool,
    show_plan: Callable[[DestroyPlan], None],
    approve: Callable[[DestroyPlan], str],
) -> DestroyOutcome:
    """Export the state, show the plan, get approval, then destroy all but the protected resources."""
    plan = plan_from_state(target.stack, engine.export_state(target.stack))
    show_plan(plan)
    if not plan.resources:
        return DestroyOutcome(plan=plan, confirmed_by=None, report=None)
    how = approve(plan)
    report, _ = drive(
        "destroy",
        target.stack,
        console,
        spinner,
        lambda on_event: engine.destroy(target.stack, on_event, exclude_protected=bool(plan.kept)),
    )
    return DestroyOutcome(plan=plan, confirmed_by=how, report=report)
