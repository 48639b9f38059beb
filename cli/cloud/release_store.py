"""A cloud stack's release history in an SSM parameter, so every operator and CI runner reads the same record."""

from __future__ import annotations

from typing import Any

from cli.core import releases

TIER = "Advanced"
"""8 KB per value: about forty releases; the oldest are dropped to fit."""
LIMIT_BYTES = 8192


def parameter_name(project: str, stack: str) -> str:
    return f"/{project}/{stack}/releases"


def load(ssm: Any, name: str) -> list[releases.Release]:
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return []
    return releases.parse_history(value, f"SSM parameter {name}")


def fitted(history: list[releases.Release]) -> str:
    """The history as the parameter's value, the oldest releases dropped until it fits."""
    kept = list(history)
    text = releases.dump_history(kept)
    while len(text.encode()) > LIMIT_BYTES and len(kept) > 1:
        kept = kept[1:]
        text = releases.dump_history(kept)
    return text


def save(ssm: Any, name: str, history: list[releases.Release]) -> None:
    ssm.put_parameter(Name=name, Value=fitted(history), Type="String", Tier=TIER, Overwrite=True)


def record(ssm: Any, name: str, **fields: Any) -> releases.Release:
    history = load(ssm, name)
    release = releases.new_release(history, **fields)
    save(ssm, name, [*history, release])
    return release


def mark(ssm: Any, name: str, release_id: str, outcome: str) -> None:
    """Give one recorded release a new outcome (a rollback marks the release it replaced `rolled back`)."""
    import dataclasses

    history = load(ssm, name)
    save(ssm, name, [dataclasses.replace(r, outcome=outcome) if r.id == release_id else r for r in history])
