"""The release history, one shape for every stack: what was released, when, by whom, and how it ended."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from cli.core.errors import ConfigError

PROMOTED = "promoted"
ROLLED_BACK = "rolled back"
FAILED_BEFORE_TRAFFIC = "failed before traffic"
OUTCOMES = (PROMOTED, ROLLED_BACK, FAILED_BEFORE_TRAFFIC)
MIGRATION_COMMAND = ["python", "-m", "groundwork_api.migrate"]
"""The image's migration step, run as a one-off task of the new version before traffic moves."""
KEEP = 50
"""Releases kept in the history; older ones are dropped (a rollback goes back at most this far)."""


@dataclass(frozen=True)
class Release:
    """One release of a stack's API."""

    id: str
    at: str
    """When it ended, UTC, ISO 8601."""
    image: str
    """The image digest in the cloud; locally the content tag of the app's sources."""
    task_definition: str
    """The task definition revision in the cloud; locally the digest of the API's command and environment."""
    settings_hash: str
    outcome: str
    by: str
    failed_checks: list[str] = field(default_factory=list)
    rollback_of: str | None = None
    """For a rollback: the release it brought back."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def released_by() -> str:
    """Who releases: the user at this host (CI sets GITHUB_ACTOR, which is preferred when present)."""
    actor = os.environ.get("GITHUB_ACTOR")
    if actor:
        return f"{actor} (CI)"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def settings_hash(settings: Any) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def new_release(
    history: list[Release],
    *,
    image: str,
    task_definition: str,
    settings: str,
    outcome: str,
    failed_checks: list[str] | None = None,
    rollback_of: str | None = None,
) -> Release:
    """The next release of a history: ids count up (r1, r2, ...), so they read in order and are easy to type."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r}; allowed: {', '.join(OUTCOMES)}")
    number = max((int(r.id[1:]) for r in history if r.id[1:].isdigit()), default=0) + 1
    return Release(
        id=f"r{number}",
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        image=image,
        task_definition=task_definition,
        settings_hash=settings,
        outcome=outcome,
        by=released_by(),
        failed_checks=list(failed_checks or []),
        rollback_of=rollback_of,
    )


def parse_history(text: str, where: str) -> list[Release]:
    """The stored history (a JSON list of releases); a damaged one is named with where it lives."""
    try:
        rows = json.loads(text) if text.strip() else []
        return [Release(**row) for row in rows]
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the release history in {where} is not readable ({exc})", hint=f"inspect {where}") from None


def dump_history(history: list[Release]) -> str:
    return json.dumps([r.to_json() for r in history[-KEEP:]], separators=(",", ":"))


def rollback_target(history: list[Release], to: str | None, live_image: str | None = None) -> Release:
    """The release a rollback brings back: the named one, or the last promoted one whose image is not the live one
    (`live_image`: what serves now; by default the last promoted release's)."""
    promoted = [r for r in history if r.outcome == PROMOTED]
    if to is not None:
        found = next((r for r in history if r.id == to), None)
        if found is None:
            raise ConfigError(f"no release {to!r} in the history", hint="`infra releases` lists them")
        if found.outcome != PROMOTED:
            raise ConfigError(
                f"release {to} was never promoted ({found.outcome}); a rollback brings back a release that served",
                hint="choose one of: " + ", ".join(r.id for r in promoted),
            )
        return found
    if live_image is None and promoted:
        live_image = promoted[-1].image
    earlier = [r for r in promoted if live_image is not None and r.image != live_image]
    if not earlier:
        raise ConfigError("there is no earlier promoted release to roll back to", hint="`infra releases` lists them")
    return earlier[-1]


def error_lines(output: list[str], keep: int = 10) -> list[str]:
    """The lines of a step's output that say what went wrong: JSON log lines at error level or above, and plain
    lines naming an error or a traceback's last line; the last lines when none does."""
    found: list[str] = []
    for line in output:
        text = line.strip()
        try:
            record = json.loads(text) if text.startswith("{") else None
        except ValueError:
            record = None
        if isinstance(record, dict):
            if str(record.get("level", "")).lower() in ("error", "critical", "fatal"):
                found.append(text)
        elif "error" in text.lower() or "exception" in text.lower():
            found.append(text)
    return (found or [line for line in output if line.strip()])[-keep:]


def render(console: Any, history: list[Release]) -> None:
    from rich.table import Table

    styles = {PROMOTED: "green", ROLLED_BACK: "yellow", FAILED_BEFORE_TRAFFIC: "red"}
    table = Table(title="releases", title_justify="left", show_edge=False, pad_edge=False)
    for name in ("id", "when (UTC)", "image", "task definition", "settings", "outcome", "by"):
        table.add_column(name)
    for r in history:
        outcome = f"[{styles[r.outcome]}]{r.outcome}[/]"
        if r.failed_checks:
            outcome += f" ({', '.join(r.failed_checks)})"
        if r.rollback_of:
            outcome += f" (rollback to {r.rollback_of})"
        table.add_row(r.id, r.at, r.image, r.task_definition, r.settings_hash, outcome, r.by)
    console.print(table if history else "no releases recorded yet")
