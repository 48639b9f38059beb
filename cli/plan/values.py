"""Helpers over plan values: JSON documents held in strings, and paths into nested inputs."""

from __future__ import annotations

import json
from typing import Any


def decoded(value: Any) -> Any:
    """A string holding a JSON object or array as that document; any other value unchanged."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


IDENTITY_KEYS = ("name", "Name", "key", "Key", "Sid", "sid")
"""Keys that name an item of a list (environment variables, secrets, containers, rules, tags, statements)."""


def flatten(value: Any, path: str = "", *, by_identity: bool = False) -> dict[str, Any]:
    """Leaf values by path (`a.b[0].c`); JSON documents in strings are opened up.

    With `by_identity`, an item of a list of named things is addressed by its name (`environment[name=PORT].value`),
    so a diff matches items by name, not position; other lists keep their positions.
    """
    value = decoded(value)
    if isinstance(value, dict):
        if not value:
            return {path: {}}
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{path}.{key}" if path else str(key), by_identity=by_identity))
        return out
    if isinstance(value, list):
        if not value:
            return {path: []}
        labels = (identities(value) if by_identity else None) or [str(index) for index in range(len(value))]
        out = {}
        for label, item in zip(labels, value, strict=True):
            out.update(flatten(item, f"{path}[{label}]", by_identity=by_identity))
        return out
    return {path: value}


def identities(items: list[Any]) -> list[str] | None:
    """A label per item that names it (`name=PORT`), when every item has one and no two share it; else None.

    IAM statements without a `Sid` are known by their effect and actions (`Allow s3:GetObject`).
    """
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in IDENTITY_KEYS:
        names = [item.get(key) for item in items]
        if all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names):
            return [f"{key}={n}" for n in names]
    if all("Effect" in item for item in items):
        labels = [
            f"{item['Effect']} {' '.join(sorted(_strings(item.get('Action') or item.get('NotAction'))))}"
            for item in items
        ]
        if len(set(labels)) == len(labels):
            return labels
    return None


def _strings(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]
