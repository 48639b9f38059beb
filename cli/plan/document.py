"""A recording as plain, deterministic plan data: resources sorted by URN, secrets redacted, paths relative."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from cli.plan.recorder import Recorded, Recording, asset_data, is_secret

FORMAT = "groundwork-plan/1"
"""Identifies the plan document's shape; a saved plan with another value is refused."""
REDACTED = "[secret]"
"""What a secret value, or a secure setting, looks like in a plan."""


def plan_document(recording: Recording, project_dir: pathlib.Path) -> dict[str, Any]:
    """The plan of one program run as plain JSON-ready data."""
    root = str(pathlib.Path(project_dir).resolve())
    resources = [_resource(r, root) for r in sorted(recording.resources, key=lambda r: r.urn)]
    return {
        "format": FORMAT,
        "stack": recording.settings.stack,
        "region": recording.settings.region,
        "resource_count": len(resources),
        # What the cloud would create: custom resources, components and the explicit providers excluded.
        "cloud_resource_count": sum(
            1 for r in resources if r["custom"] and not r["type"].startswith("pulumi:providers:")
        ),
        # Read by the cost budget control; a tree whose settings predate the setting has none.
        "cost_budget_monthly_usd": getattr(recording.settings, "cost_budget_monthly_usd", None),
        "resources": resources,
        # The Grafana dashboard of the program's panels (`infra plan --grafana-dashboard`); none in older trees.
        "grafana_dashboard": grafana_dashboard(recording),
    }


def grafana_dashboard(recording: Recording) -> dict[str, Any] | None:
    """The dashboard document the monitoring component rendered from its panels."""
    for outputs in recording.component_outputs.values():
        text = outputs.get("grafana_dashboard")
        if isinstance(text, str):
            return json.loads(text)
    return None


def _resource(r: Recorded, root: str) -> dict[str, Any]:
    """One resource: identity, place in the graph, options and redacted inputs."""
    return {
        "urn": r.urn,
        "type": r.type,
        "name": r.name,
        "custom": r.custom,
        "id": _clean(r.id, root) if r.custom else "",
        "parent": r.parent,
        "provider": r.provider.rpartition("::")[0] if r.provider else "",
        "dependencies": sorted(set(r.dependencies)),
        "property_dependencies": {k: sorted(set(v)) for k, v in sorted(r.property_dependencies.items()) if v},
        "options": {
            "protect": r.protect,
            "retain_on_delete": r.retain_on_delete,
            "delete_before_replace": r.delete_before_replace,
            "ignore_changes": sorted(r.ignore_changes),
            "replace_on_changes": sorted(r.replace_on_changes),
            "additional_secret_outputs": sorted(r.additional_secret_outputs),
        },
        "inputs": _clean(r.wrapped_inputs, root),
    }


def _clean(value: Any, root: str) -> Any:
    """Secrets as REDACTED, integral floats as ints, project paths relative, Pulumi internals dropped."""
    if is_secret(value):
        return REDACTED
    value = asset_data(value)
    if isinstance(value, dict):
        return {k: _clean(v, root) for k, v in sorted(value.items()) if not k.startswith("__")}
    if isinstance(value, list | tuple):
        return [_clean(v, root) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        if value == root:
            return "."
        if value.startswith(root + "/"):
            return value[len(root) + 1 :]
    return value


def dumps(plan: dict[str, Any]) -> str:
    """The canonical text of a plan: sorted keys, two-space indent, trailing newline; equal plans are equal bytes."""
    return json.dumps(plan, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
