"""Restore points: strict ISO 8601 instants with a zone, checked against the restorable window."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from cli.core.errors import ConfigError

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})")
EXAMPLE = "2026-11-30T14:05:00Z"


class BadRestorePoint(ConfigError):
    """The restore time is not an ISO 8601 instant with a zone, or lies outside the restorable window."""


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date and time with a zone (Z or ±HH:MM), as an aware UTC datetime; anything else is refused."""
    value = text.strip()
    if not _ISO.fullmatch(value):
        raise BadRestorePoint(
            f"--to {text!r} is not an ISO 8601 date and time with a zone",
            hint=f"write it like {EXAMPLE} or 2026-11-30T15:05:00+01:00 (a zone is required: local time is ambiguous)",
        )
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError as exc:
        raise BadRestorePoint(f"--to {text!r} is not a valid date and time ({exc})", hint=f"e.g. {EXAMPLE}") from None


def iso(instant: datetime) -> str:
    """An instant as ISO 8601 in UTC with a Z."""
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def require_within(instant: datetime, earliest: datetime, latest: datetime, what: str) -> None:
    """Refuse a restore point outside [earliest, latest], naming the window."""
    if earliest <= instant <= latest:
        return
    side = "before the earliest" if instant < earliest else "after the latest"
    raise BadRestorePoint(
        f"{iso(instant)} is {side} restorable time of {what}; "
        f"the restorable window is {iso(earliest)} to {iso(latest)}",
        hint="choose a time inside the window, or restore a snapshot with --snapshot ID",
        details={"window": {"earliest": iso(earliest), "latest": iso(latest)}},
    )
