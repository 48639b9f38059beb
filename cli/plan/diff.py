"""Structural difference of two plans: resources added, removed and changed property by property, with risks."""

from __future__ import annotations

import dataclasses
from typing import Any

from cli.core import resource_types
from cli.plan.replacement import DATA_HOLDING, replacing_keys
from cli.plan.values import flatten

_TRUE_IS_SAFE = frozenset(
    {
        "storageEncrypted",
        "encrypted",
        "requireTls",
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
        "deletionProtection",
        "enableDeletionProtection",
        "dropInvalidHeaderFields",
        "scanOnPush",
        "iamDatabaseAuthenticationEnabled",
    }
)
"""Boolean inputs whose change from true to false loosens security or protection."""
_FALSE_IS_SAFE = frozenset(
    {"publiclyAccessible", "assignPublicIp", "mapPublicIpOnLaunch", "skipFinalSnapshot", "forceDestroy"}
)
"""Boolean inputs whose change from false (or unset) to true loosens security or protection."""
_GUARDS = frozenset(
    {
        resource_types.S3_BUCKET_PUBLIC_ACCESS_BLOCK,
        resource_types.S3_BUCKET_SERVER_SIDE_ENCRYPTION_CONFIGURATION,
        resource_types.S3_BUCKET_POLICY,
        resource_types.RDS_PARAMETER_GROUP,
    }
)
"""Resources whose removal takes a protection away from another resource."""
_WORLD = ("0.0.0.0/0", "::/0")


@dataclasses.dataclass(frozen=True)
class Change:
    """One property that differs; `before`/`after` are None when the property is absent on that side."""

    path: str
    before: Any
    after: Any

    def shown(self, limit: int = 80) -> tuple[str, str]:
        """Both sides as text of at most `limit` characters each, cut so that where they differ stays visible."""
        return shown_pair(self.before, self.after, limit)


def shown_pair(before: Any, after: Any, limit: int) -> tuple[str, str]:
    """Two values as text of at most `limit` characters; a long pair starts a little before its first difference."""
    old, new = ("(absent)" if v is None else str(v) for v in (before, after))
    if len(old) <= limit and len(new) <= limit:
        return old, new
    same = 0
    while same < min(len(old), len(new)) and old[same] == new[same]:
        same += 1
    start = max(0, same - _CONTEXT) if same + limit // 2 > limit else 0
    return _window(old, start, limit), _window(new, start, limit)


_CONTEXT = 12
"""Characters shown before the first difference of a long pair."""


def _window(text: str, start: int, limit: int) -> str:
    head = "…" if start else ""
    body = text[start:]
    return head + (body if len(head) + len(body) <= limit else body[: limit - len(head) - 1] + "…")


@dataclasses.dataclass(frozen=True)
class Risk:
    """A change a reviewer must look at: what kind, on which resource, and why."""

    kind: str
    urn: str
    message: str


@dataclasses.dataclass
class ResourceDiff:
    """A resource present in both plans whose inputs or options differ."""

    urn: str
    type: str
    changes: list[Change]
    replaced_by: list[str]


@dataclasses.dataclass
class PlanDiff:
    """Everything that differs between a base plan and a head plan."""

    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[ResourceDiff]
    risks: list[Risk]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": [{"urn": r["urn"], "type": r["type"]} for r in self.added],
            "removed": [{"urn": r["urn"], "type": r["type"]} for r in self.removed],
            "changed": [
                {
                    "urn": c.urn,
                    "type": c.type,
                    "replace": bool(c.replaced_by),
                    "replaced_by": c.replaced_by,
                    "changes": [dataclasses.asdict(p) for p in c.changes],
                }
                for c in self.changed
            ],
            "risks": [dataclasses.asdict(r) for r in self.risks],
        }


def diff_plans(base: dict[str, Any], head: dict[str, Any]) -> PlanDiff:
    """Compares two plans resource by resource (matched by URN)."""
    before = {r["urn"]: r for r in base["resources"]}
    after = {r["urn"]: r for r in head["resources"]}
    added = [after[u] for u in sorted(after.keys() - before.keys())]
    removed = [before[u] for u in sorted(before.keys() - after.keys())]
    changed: list[ResourceDiff] = []
    risks: list[Risk] = []
    for urn in sorted(before.keys() & after.keys()):
        entry = _compare(before[urn], after[urn])
        if entry is not None:
            changed.append(entry)
            risks.extend(_change_risks(before[urn], after[urn], entry))
    risks.extend(r for res in removed for r in _removal_risks(res))
    risks.extend(r for res in added for r in _exposure_risks(res["urn"], {}, res.get("inputs", {})))
    return PlanDiff(added=added, removed=removed, changed=changed, risks=risks)


def _compare(old: dict[str, Any], new: dict[str, Any]) -> ResourceDiff | None:
    """Property-by-property changes of inputs, options, parent and dependencies."""
    sides = [
        {**_prefixed("inputs", r.get("inputs", {})), **_prefixed("options", r.get("options", {}))} for r in (old, new)
    ]
    for side, r in zip(sides, (old, new), strict=True):
        side["parent"] = r.get("parent", "")
        side["dependencies"] = tuple(r.get("dependencies", []))
    changes = [
        Change(path, sides[0].get(path), sides[1].get(path))
        for path in sorted(sides[0].keys() | sides[1].keys())
        if sides[0].get(path) != sides[1].get(path)
    ]
    if not changes:
        return None
    top = {c.path.split(".", 1)[1].split("[", 1)[0].split(".", 1)[0] for c in changes if c.path.startswith("inputs.")}
    replace_on = new.get("options", {}).get("replace_on_changes", [])
    return ResourceDiff(
        urn=new["urn"], type=new["type"], changes=changes, replaced_by=replacing_keys(new["type"], top, replace_on)
    )


def _prefixed(prefix: str, value: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}.{k}": v for k, v in flatten(value, by_identity=True).items()} if value else {}


def _change_risks(old: dict[str, Any], new: dict[str, Any], entry: ResourceDiff) -> list[Risk]:
    """Replacement of data, protection removed, security loosened."""
    urn, risks = entry.urn, []
    if entry.replaced_by and new["type"] in DATA_HOLDING:
        risks.append(Risk("replacement", urn, f"replaced (data lost) because {', '.join(entry.replaced_by)} changed"))
    if old.get("options", {}).get("protect") and not new.get("options", {}).get("protect"):
        risks.append(Risk("protection-removed", urn, "protect option removed"))
    old_in, new_in = old.get("inputs", {}), new.get("inputs", {})
    for key in sorted(_TRUE_IS_SAFE):
        if old_in.get(key) is True and new_in.get(key) is not True:
            risks.append(Risk("loosened", urn, f"{key} turned off"))
    for key in sorted(_FALSE_IS_SAFE):
        if old_in.get(key) is not True and new_in.get(key) is True:
            risks.append(Risk("loosened", urn, f"{key} turned on"))
    risks.extend(_exposure_risks(urn, old_in, new_in))
    return risks


def _exposure_risks(urn: str, old_in: dict[str, Any], new_in: dict[str, Any]) -> list[Risk]:
    """Ingress from anywhere that the base did not have."""
    before = {v for k, v in flatten(old_in).items() if _is_ingress_cidr(k) and v in _WORLD}
    after = {v for k, v in flatten(new_in).items() if _is_ingress_cidr(k) and v in _WORLD}
    if "ingress" in urn.lower() or any(k.startswith("ingress") for k in new_in):
        return [Risk("loosened", urn, f"ingress opened to {cidr}") for cidr in sorted(after - before)]
    return []


def _is_ingress_cidr(path: str) -> bool:
    leaf = path.rsplit(".", 1)[-1].split("[", 1)[0]
    return leaf in ("cidrIpv4", "cidrIpv6", "cidrBlocks", "ipv6CidrBlocks")


def _removal_risks(res: dict[str, Any]) -> list[Risk]:
    """Deleting data, a protected resource or a resource that guards another."""
    urn, kind = res["urn"], res["type"]
    if kind in DATA_HOLDING:
        return [Risk("deletion", urn, "data-holding resource deleted")]
    if res.get("options", {}).get("protect"):
        return [Risk("deletion", urn, "protected resource deleted")]
    if kind in _GUARDS:
        return [Risk("loosened", urn, f"{kind.rsplit(':', 1)[-1]} removed")]
    return []
