"""Read-only queries over a plan's resources that controls share."""

from __future__ import annotations

from typing import Any

from cli.plan.values import decoded

PRODUCTION_STACKS = frozenset({"prod", "production"})
"""Stacks where level-P controls are errors."""


class PlanView:
    """A plan's custom resources with lookups by type, URN, id and input references."""

    def __init__(self, plan: dict[str, Any], *, production: bool | None = None) -> None:
        self.plan = plan
        self.stack: str = plan.get("stack", "")
        self.production = self.stack in PRODUCTION_STACKS if production is None else production
        self.resources = [r for r in plan["resources"] if r.get("custom")]
        self.by_urn = {r["urn"]: r for r in self.resources}
        self._by_id: dict[str, list[dict[str, Any]]] = {}
        for r in self.resources:
            self._by_id.setdefault(r.get("id", ""), []).append(r)

    def of(self, *tokens: str) -> list[dict[str, Any]]:
        """Resources of any of the type tokens, in URN order."""
        return [r for r in self.resources if r["type"] in tokens]

    def referenced(self, resource: dict[str, Any], key: str, token: str | None = None) -> list[dict[str, Any]]:
        """Resources whose outputs flow into the input `key` of `resource`."""
        urns = resource.get("property_dependencies", {}).get(key, [])
        found = [self.by_urn[u] for u in urns if u in self.by_urn]
        return [r for r in found if token is None or r["type"] == token]

    def attached(self, token: str, key: str, target: dict[str, Any]) -> list[dict[str, Any]]:
        """Resources of `token` whose input `key` refers to `target` (by dependency or by id)."""
        return [
            r
            for r in self.of(token)
            if target["urn"] in r.get("property_dependencies", {}).get(key, [])
            or (target.get("id") and r["inputs"].get(key) == target["id"])
        ]

    def with_id(self, value: Any) -> list[dict[str, Any]]:
        """Resources whose mock id is `value`."""
        return self._by_id.get(value, []) if isinstance(value, str) else []


def inputs(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's inputs."""
    return resource.get("inputs", {})


def document(resource: dict[str, Any], key: str) -> Any:
    """An input holding a JSON document (a policy, container definitions) as data."""
    return decoded(inputs(resource).get(key))


def statements(policy: Any) -> list[dict[str, Any]]:
    """The statements of an IAM-style policy document, always as a list."""
    policy = decoded(policy)
    if not isinstance(policy, dict):
        return []
    found = policy.get("Statement", [])
    return [found] if isinstance(found, dict) else [s for s in found if isinstance(s, dict)]


def as_list(value: Any) -> list[Any]:
    """A value that may be one item or a list, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
