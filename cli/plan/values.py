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


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaf values by path (`a.b[0].c`); JSON documents in strings are opened up."""
    value = decoded(value)
    if isinstance(value, dict):
        if not value:
            return {path: {}}
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(value, list):
        if not value:
            return {path: []}
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{path}[{index}]"))
        return out
    return {path: value}
