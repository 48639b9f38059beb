"""What every part of the plan's local mapping shares: its error and the checks of a single resource and a value."""

from __future__ import annotations

from typing import Any


class MappingError(ValueError):
    """The plan declares something the local stack cannot realise faithfully; the message names the resource."""


def only(by_type: dict[str, list[Any]], token: str) -> Any:
    found = by_type.get(token, [])
    if len(found) != 1:
        raise MappingError(f"the local stack realises exactly one {token}; the plan declares {len(found)}")
    return found[0]


def plain_text(value: str) -> bool:
    return not any(ord(c) < 32 or c in '"\\' for c in value)
