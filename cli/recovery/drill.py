"""The disaster-recovery drill: marker writes through the API, a restore to a point after them, checks and timings."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cli.errors import OperationFailed
from cli.recovery.times import iso

if TYPE_CHECKING:
    from cli.local.postgres import Cluster

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


def drill_local(
    cluster: Cluster,
    api: ApiTarget,
    *,
    stack: str = "local",
    progress: Callable[[str], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
) -> DrillReport:
    """Write, restore a new local cluster to a point after the marker, check, measure, and remove it."""
    import psycopg

    from cli.recovery import archive

    run = new_run_id()
    report = DrillReport(stack=stack, run=run, started_at=iso(datetime.now(UTC)))
    report.worst_case_recovery_point_s = archive.ARCHIVE_TIMEOUT_S
    live_url = cluster.url(superuser=True, database=cluster.app_database)
    with cluster.connect() as conn:
        if conn.execute("SHOW archive_mode").fetchone()[0] != "on":
            raise DrillFailed(
                "the local cluster keeps no WAL archive (archive_mode is off), so it cannot be restored to a point",
                hint="it was made before archiving existed: `infra destroy --stack local` and `infra up --stack local`",
            )
        segment_size = int(
            conn.execute("SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'").fetchone()[0]
        )
        timeline = int(conn.execute("SELECT timeline_id FROM pg_control_checkpoint()").fetchone()[0])
    backups = archive.base_backups(cluster.base)
    if not backups:
        raise DrillFailed(
            f"no base backup under {archive.backups_dir(cluster.base)}", hint="the cluster takes one when it is created"
        )

    writer = ApiWriter(api)
    try:
        progress(f"writing {WRITES_BEFORE} records and the marker through {api.base_url}")
        write_markers(writer, report)
        expected = rows_of(live_url)
        with psycopg.connect(live_url, autocommit=True, connect_timeout=5) as conn:
            target = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        report.restore_point = target.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        write_after(writer, report)
    finally:
        writer.close()

    with cluster.connect() as conn:
        end_lsn = str(conn.execute("SELECT pg_switch_wal()").fetchone()[0])
        _wait_archived(
            conn, archive.segment_name(timeline, max(archive.lsn_value(end_lsn) - 1, 0), segment_size), end_lsn
        )
    eligible = [b for b in backups if b.started < target]
    if not eligible:
        raise DrillFailed("every base backup is newer than the restore point", hint="run the drill again")
    backup = eligible[-1]
    report.base_backup = str(backup.path)
    report.segments = archive.check_archive(archive.archive_dir(cluster.base), backup, end_lsn, segment_size)

    progress(f"restoring a new cluster to {report.restore_point}")
    throwaway = cluster.base.parent / f"drill-{run}"
    report.throwaway = str(throwaway)
    started = clock()
    restored = None
    try:
        restored = archive.start_restore(
            backup, archive.archive_dir(cluster.base), target, throwaway, cluster.superuser_password
        )
        opened = archive.wait_promoted(restored, cluster.app_database, target, clock=clock)
        report.recovery_time_s = opened - started
        found = rows_of(restored.url(cluster.app_database))
        compare(report, expected, found, target)
    except OperationFailed as exc:
        report.failure = exc.message
        raise
    finally:
        if restored is not None:
            restored.remove()
        elif throwaway.exists():
            archive.RestoredCluster(throwaway, 0, "").remove()
        report.throwaway_removed = not throwaway.exists()
    return report


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


def _wait_archived(conn: Any, segment: str, end_lsn: str) -> None:
    """Wait until archive_command has stored the segment that holds the restore point's commits."""
    query = "SELECT last_archived_wal, failed_count, last_failed_wal FROM pg_stat_archiver"
    failed_before = conn.execute(query).fetchone()[1]
    deadline = time.monotonic() + ARCHIVE_WAIT_S
    while time.monotonic() < deadline:
        last, failed, failed_wal = conn.execute(query).fetchone()
        if last is not None and last >= segment:
            return
        # PostgreSQL retries a failing archive_command forever; three failures in a row will not mend themselves.
        if failed - failed_before >= 3 and failed_wal is not None and failed_wal <= segment:
            break
        time.sleep(0.05)
    raise DrillFailed(
        f"WAL segment {segment} (up to {end_lsn}) was not archived: {failed - failed_before} failed attempt(s) of "
        f"archive_command during the drill, last failed: {failed_wal}",
        hint="archive_command is failing (a full disk, permissions on the archive): see the PostgreSQL log",
    )
