"""What an operation changed (or would change), built from the Pulumi engine's event stream."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cli.core import resource_types

CATEGORIES = ("create", "update", "replace", "delete", "same")
"""The summary buckets shown to users, in display order."""

_CATEGORY_OF_OP = {
    "create": "create",
    "import": "create",
    "update": "update",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "import-replacement": "replace",
    "read-replacement": "replace",
    "discard-replaced": "replace",
    "delete": "delete",
    "discard": "delete",
    "remove-pending-replace": "delete",
    "same": "same",
    "read": "same",
    "refresh": "same",
}
_PRECEDENCE = {"replace": 4, "delete": 3, "create": 2, "update": 1, "same": 0}
STACK_TYPE = resource_types.PULUMI_STACK
_COLOR_DIRECTIVE = re.compile(r"<\{%[^%]*%\}>")
DATA_TYPES = {
    resource_types.RDS_INSTANCE: "database",
    resource_types.RDS_CLUSTER: "database",
    resource_types.RDS_PROXY: "connection proxy",
    resource_types.S3_BUCKET: "bucket",
    resource_types.S3_BUCKET_V2: "bucket",
}
"""Resource types whose deletion loses data or connectivity, named as users know them."""


def op_value(op: Any) -> str:
    """An OpType (an Enum of str) or a plain string, as its wire value."""
    return str(getattr(op, "value", op))


def category(op: Any) -> str:
    """Map a granular engine operation to one of CATEGORIES."""
    return _CATEGORY_OF_OP.get(op_value(op), "same")


def urn_name(urn: str) -> str:
    """The resource's logical name: the last `::` segment of its URN."""
    return urn.rsplit("::", 1)[-1] if urn else ""


def clean_message(message: str) -> str:
    """A diagnostic without Pulumi's colour directives and surrounding blank lines."""
    return _COLOR_DIRECTIVE.sub("", message).strip()


@dataclass
class ResourceChange:
    """One resource's step in an operation."""

    urn: str
    type: str
    op: str
    status: str = "pending"
    """pending, done or failed."""
    diffs: list[str] = field(default_factory=list)
    detailed: dict[str, str] = field(default_factory=dict)
    protect: bool = False

    @property
    def name(self) -> str:
        return urn_name(self.urn)

    @property
    def data_kind(self) -> str | None:
        return DATA_TYPES.get(self.type)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "urn": self.urn,
            "name": self.name,
            "type": self.type,
            "op": self.op,
            "status": self.status,
        }
        if self.diffs:
            doc["diffs"] = list(self.diffs)
        if self.detailed:
            doc["detailed_diff"] = dict(self.detailed)
        if self.data_kind:
            doc["holds_data"] = self.data_kind
        return doc


@dataclass(frozen=True)
class StepDone:
    """One engine step that finished (or failed), with its granular operation."""

    resource: ResourceChange
    op: str
    failed: bool


@dataclass(frozen=True)
class Diagnostic:
    """A message from the engine or a provider; secrets are already masked by Pulumi."""

    severity: str
    message: str
    urn: str | None

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "message": self.message, "urn": self.urn}


@dataclass
class ChangeReport:
    """Everything the event stream said about one operation."""

    kind: str
    stack: str
    resources: dict[str, ResourceChange] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    summary: dict[str, int] | None = None
    """Counts from the engine's SummaryEvent, by granular op, when one arrived."""
    duration_seconds: int | None = None
    started: bool = False
    cancelled: bool = False

    def apply(self, event: Any) -> StepDone | Diagnostic | None:
        """Fold one EngineEvent into the report; returns what changed, for live rendering."""
        if getattr(event, "prelude_event", None) is not None:
            self.started = True
            return None
        if getattr(event, "cancel_event", None) is not None:
            self.cancelled = True
            return None
        pre = getattr(event, "resource_pre_event", None)
        if pre is not None:
            self._on_pre(pre.metadata)
            return None
        outputs = getattr(event, "res_outputs_event", None)
        if outputs is not None:
            return self._on_done(outputs.metadata, "done")
        failed = getattr(event, "res_op_failed_event", None)
        if failed is not None:
            return self._on_done(failed.metadata, "failed")
        diag = getattr(event, "diagnostic_event", None)
        if diag is not None:
            return self._on_diagnostic(diag)
        summary = getattr(event, "summary_event", None)
        if summary is not None:
            self.summary = {op_value(k): int(v) for k, v in (summary.resource_changes or {}).items()}
            self.duration_seconds = summary.duration_seconds
        return None

    def _on_pre(self, meta: Any) -> ResourceChange | None:
        if meta.type == STACK_TYPE or meta.type.startswith("pulumi:providers:"):
            return None
        op = category(meta.op)
        current = self.resources.get(meta.urn)
        state = meta.new or meta.old
        if current is None:
            current = ResourceChange(urn=meta.urn, type=meta.type, op=op)
            self.resources[meta.urn] = current
        elif _PRECEDENCE[op] > _PRECEDENCE[current.op]:
            current.op = op
        current.protect = bool(getattr(state, "protect", False)) if state is not None else current.protect
        for key in meta.diffs or []:
            if key not in current.diffs:
                current.diffs.append(key)
        for key, prop in (meta.detailed_diff or {}).items():
            current.detailed[key] = op_value(prop.diff_kind)
        return current

    def _on_done(self, meta: Any, status: str) -> StepDone | None:
        if meta.type == STACK_TYPE or meta.type.startswith("pulumi:providers:"):
            return None
        current = self.resources.get(meta.urn)
        if current is None:
            current = ResourceChange(urn=meta.urn, type=meta.type, op=category(meta.op))
            self.resources[meta.urn] = current
        if current.status != "failed":
            current.status = status
        return StepDone(resource=current, op=op_value(meta.op), failed=status == "failed")

    def _on_diagnostic(self, diag: Any) -> Diagnostic | None:
        message = clean_message(diag.message or "")
        if not message or diag.ephemeral:
            return None
        item = Diagnostic(severity=diag.severity or "info", message=message, urn=diag.urn)
        self.diagnostics.append(item)
        return item

    def counts(self) -> dict[str, int]:
        """Resources per category; the engine's summary wins when present."""
        if self.summary is not None:
            totals: Counter[str] = Counter()
            for op, n in self.summary.items():
                totals[category(op)] += n
            return {c: totals.get(c, 0) for c in CATEGORIES}
        seen = Counter(r.op for r in self.resources.values())
        return {c: seen.get(c, 0) for c in CATEGORIES}

    def changed(self) -> list[ResourceChange]:
        """Resources whose step is not `same`, in the order the engine reported them."""
        return [r for r in self.resources.values() if r.op != "same"]

    @property
    def has_changes(self) -> bool:
        return any(n for c, n in self.counts().items() if c != "same")

    def failures(self) -> list[ResourceChange]:
        return [r for r in self.resources.values() if r.status == "failed"]

    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.kind,
            "stack": self.stack,
            "counts": self.counts(),
            "changes": [r.to_json() for r in self.changed()],
            "failed": [r.to_json() for r in self.failures()],
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "duration_seconds": self.duration_seconds,
        }
