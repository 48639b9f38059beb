"""The strict Pulumi mock the program tests run under: the plan's recording monitor plus stack-file helpers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import yaml

from cli.plan.mock_answers import UnknownInvoke
from cli.plan.recorder import Recording
from cli.plan.recorder import run as run_recorded
from stacks.settings import PROJECT_DIR, StackSettings, from_values

__all__ = [
    "Recording",
    "UnknownInvoke",
    "config_values",
    "recorded",
    "run",
    "settings_for",
]


def run(settings: StackSettings, build: Callable[[StackSettings], dict[str, Any]] | None = None) -> Recording:
    """Runs the program for the settings under fresh mocks and returns what it declared and exported."""
    if build is None:
        from stacks.program import build as build_program

        build = build_program
    return run_recorded(settings, build)


def config_values(stack: str) -> tuple[Any, dict[str, Any]]:
    """The region and the `groundwork:` values of Pulumi.<stack>.yaml."""
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    config = document["config"]
    values = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("groundwork:")}
    return config.get("aws:region"), values


def settings_for(stack: str, **overrides: Any) -> StackSettings:
    """Validated settings of a stack file with some config keys overridden (None removes a key)."""
    region, values = config_values(stack)
    for key, value in overrides.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return from_values(stack, region, values)


@functools.cache
def recorded(stack: str, overrides: tuple[tuple[str, Any], ...] = ()) -> Recording:
    """A cached program run, shared by the tests of one session."""
    return run(settings_for(stack, **dict(overrides)))
