"""What a control is, what it reports, and the registry that built-in and user controls join."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cli.plan.policy.view import PlanView

LEVELS = ("E", "P", "A")
"""E: error on every stack; P: error on production stacks, warning elsewhere; A: advisory."""


@dataclasses.dataclass(frozen=True)
class Violation:
    """One resource breaking a control; `level` overrides the control's for mixed rules such as E/P."""

    urn: str
    message: str
    level: str | None = None


@dataclasses.dataclass(frozen=True)
class Control:
    """A named check with the rule ids it comes from and its level."""

    id: str
    title: str
    sources: tuple[str, ...]
    level: str
    check: Callable[[PlanView], Iterable[Violation]]
    module: str


REGISTRY: dict[str, Control] = {}
"""Every known control by id, in registration order."""


def control(id: str, title: str, *, sources: Iterable[str], level: str) -> Callable:
    """Registers the decorated function `check(view) -> Iterable[Violation]` as a control."""
    if level not in LEVELS and not all(part in LEVELS for part in level.split("/")):
        raise ValueError(f"control {id}: level {level!r} is not one of E, P, A or a pair such as E/P")

    def register(check: Callable[[PlanView], Iterable[Violation]]) -> Callable[[PlanView], Iterable[Violation]]:
        existing = REGISTRY.get(id)
        if existing is not None and existing.check.__qualname__ != check.__qualname__:
            raise ValueError(f"control id {id!r} is already used by {existing.module}.{existing.check.__name__}")
        REGISTRY[id] = Control(id, title, tuple(sources), level, check, check.__module__)
        return check

    return register
