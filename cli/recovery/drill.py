"""The disaster-recovery drill: marker writes through the API, a restore to a point after them, checks and timings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cli.core.errors import OperationFailed

WRITES_BEFORE = 20
"""Acknowledged writes made before the restore point (the marker is one more); each must come back."""
WRITES_AFTER = 5
"""Acknowledged writes made after the restore point; none may come back."""
ARCHIVE_WAIT_S = 60
TABLE = "user_practice"


class DrillFailed(OperationFailed):
    """The drill ran and the restored database is not what it must be (or could not be made)."""


@dataclass(frozen=True)
class ApiTarget:
    """Where the drill writes: the service's base URL, a bearer token it accepts (never shown), a CA to trust."""

    base_url: str
    token: str = field(repr=False)
    ca_file: str | None = None


@dataclass
class DrillReport:
    """What the drill did and found; `ok` only when every check passed."""

    stack: str
    run: str
    started_at: str
    restore_point: str | None = None
    marker: str | None = None
    writes_before: int = 0
    writes_after: int = 0
    rows_expected: int = 0
    rows_missing: list[str] = field(default_factory=list)
    rows_after_present: list[str] = field(default_factory=list)
    recovery_point_s: float | None = None
    recovery_time_s: float | None = None
    worst_case_recovery_point_s: float | None = None
    base_backup: str | None = None
    segments: list[str] = field(default_factory=list)
    throwaway: str | None = None
    throwaway_removed: bool = False
    failure: str | None = None
    markdown: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.failure is None
            and self.marker is not None
            and not self.rows_missing
            and not self.rows_after_present
            and self.throwaway_removed
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stack": self.stack,
            "run": self.run,
            "started_at": self.started_at,
            "restore_point": self.restore_point,
            "marker": self.marker,
            "writes": {"before_restore_point": self.writes_before, "after_restore_point": self.writes_after},
            "checks": {
                "rows_expected": self.rows_expected,
                "rows_missing": self.rows_missing,
                "rows_after_restore_point_present": self.rows_after_present,
            },
            "recovery_point_seconds": _round(self.recovery_point_s),
            "recovery_time_seconds": _round(self.recovery_time_s),
            "worst_case_recovery_point_seconds": self.worst_case_recovery_point_s,
            "base_backup": self.base_backup,
            "wal_segments": self.segments,
            "throwaway": self.throwaway,
            "throwaway_removed": self.throwaway_removed,
            "failure": self.failure,
            "markdown": self.markdown,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


class ApiWriter:
    """Authenticated POST /map writes; only a 200 or 201 counts as acknowledged."""

    def __init__(self, api: ApiTarget) -> None:
        import httpx

        self.client = httpx.Client(
            base_url=api.base_url,
            verify=api.ca_file or True,
            timeout=10,
            headers={"authorization": f"Bearer {api.token}"},
        )

    def write(self, user_id: str, practice: dict[str, Any]) -> dict[str, Any]:
        import httpx

        try:
            response = self.client.post("/map", json={"user_id": user_id, "practice": practice})
        except httpx.HTTPError as exc:
            raise DrillFailed(
                f"the API did not take the drill's write {user_id}: {exc}", hint="is the stack up?"
            ) from None
        if response.status_code not in (200, 201):
            raise DrillFailed(
                f"the API answered {response.status_code} to the drill's write {user_id}: {response.text[:200]}",
                hint="check the service with `infra smoke` first",
            )
        return response.json()

    def close(self) -> None:
        self.client.close()


def rows_of(url: str) -> dict[str, tuple[int, datetime]]:
    """Every row of the table: user id -> (version, updated_at)."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        found = conn.execute(f"SELECT user_id, version, updated_at FROM {TABLE}").fetchall()  # noqa: S608 - constant
    return {user: (int(version), updated) for user, version, updated in found}


def compare(
    report: DrillReport,
    expected: dict[str, tuple[int, datetime]],
    found: dict[str, tuple[int, datetime]],
    target: datetime,
) -> None:
    """Every row the live database held before the restore point is back (at least at its version), no write made
    after it is, and the recovery point is the restore point's distance from the newest row restored."""
    report.rows_expected = len(expected)
    report.rows_missing = sorted(u for u, (v, _) in expected.items() if u not in found or found[u][0] < v)
    report.rows_after_present = sorted(u for u in found if u.startswith(f"drill-{report.run}-after-"))
    newest = max((updated for _, updated in found.values()), default=None)
    if newest is not None:
        report.recovery_point_s = max((target - newest).total_seconds(), 0.0)


def write_markers(writer: ApiWriter, report: DrillReport) -> dict[str, Any]:
    """The writes before the restore point and the marker; returns the marker's record as the API stored it."""
    for number in range(WRITES_BEFORE):
        writer.write(f"drill-{report.run}-before-{number:03d}", {"drill": report.run, "seq": number})
    report.marker = f"drill-{report.run}-marker"
    record = writer.write(report.marker, {"drill": report.run, "marker": True})
    report.writes_before = WRITES_BEFORE + 1
    return record


def write_after(writer: ApiWriter, report: DrillReport) -> None:
    """Acknowledged writes after the restore point, which the restore must not bring back."""
    for number in range(WRITES_AFTER):
        writer.write(f"drill-{report.run}-after-{number:03d}", {"drill": report.run, "seq": number, "after": True})
    report.writes_after = WRITES_AFTER
