"""Stack outputs as both backends give them (a value and whether it is secret), and their masked view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StackOutput:
    """One stack output and whether it is secret."""

    value: Any
    secret: bool


SECRET_MASK = "[secret]"  # noqa: S105 (the mask shown instead of a secret)


def masked_outputs(outputs: dict[str, StackOutput], show_secrets: bool) -> tuple[dict[str, Any], list[str]]:
    """Output values with secrets replaced by a mask unless asked for, and the names that were masked."""
    shown: dict[str, Any] = {}
    hidden: list[str] = []
    for name in sorted(outputs):
        item = outputs[name]
        if item.secret and not show_secrets:
            shown[name] = SECRET_MASK
            hidden.append(name)
        else:
            shown[name] = item.value
    return shown, hidden
