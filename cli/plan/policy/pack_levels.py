"""The policy pack's names and enforcement levels: one policy per control and level, shared by the pack and the CLI."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from cli.plan.policy.model import LEVELS, Control

PACK_NAME = "groundwork"
"""The pack's name, as in policy-pack/PulumiPolicy.yaml's directory and the engine's policy events."""
PACK_DIR = "policy-pack"
"""The pack's directory in the project (PulumiPolicy.yaml and __main__.py)."""

MANDATORY = "mandatory"
ADVISORY = "advisory"


def levels_of(control: Control) -> tuple[str, ...]:
    """The levels a control's findings can have: `E/P` gives E and P."""
    parts = tuple(dict.fromkeys(control.level.split("/")))
    return tuple(p for p in parts if p in LEVELS) or ("E",)


def policy_name(control: Control, level: str) -> str:
    """`groundwork-3-multi-az`, or with the level (`groundwork-4-backup-retention-p`) for a mixed control."""
    slug = re.sub(r"[^a-z0-9]+", "-", control.check.__name__.lower()).strip("-")
    ident = re.sub(r"[^a-z0-9]+", "-", control.id.lower()).strip("-")
    name = f"{PACK_NAME}-{ident}-{slug}"
    return f"{name}-{level.lower()}" if len(levels_of(control)) > 1 else name


def route(control: Control, finding_level: str) -> str:
    """The level whose policy reports a finding: its own when the control has it, else the control's first."""
    levels = levels_of(control)
    return finding_level if finding_level in levels else levels[0]


def enforcement(level: str, production: bool) -> str:
    """E is mandatory everywhere, P mandatory on production (protected) stacks and advisory elsewhere, A advisory."""
    if level == "E" or (level == "P" and production):
        return MANDATORY
    return ADVISORY


def policies_by_name(controls: Iterable[Control]) -> dict[str, tuple[Control, str]]:
    """Every policy of the pack by name, with its control and level."""
    found: dict[str, tuple[Control, str]] = {}
    for control in controls:
        for level in levels_of(control):
            name = policy_name(control, level)
            if name in found:
                raise ValueError(f"policy name {name!r} is used by controls {found[name][0].id} and {control.id}")
            found[name] = (control, level)
    return found


def pack_config(controls: Iterable[Control], *, production: bool) -> dict[str, Any]:
    """The `--policy-pack-config` document for a stack: each policy's enforcement level and the stack's kind."""
    return {
        name: {"enforcementLevel": enforcement(level, production), "production": production}
        for name, (_, level) in policies_by_name(controls).items()
    }
