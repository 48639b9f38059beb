"""The drill on the local stack: marker writes through the API, then a point-in-time restore from the WAL archive."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, LiteralString

from cli.core.errors import ConfigError, OperationFailed
from cli.local import wal_archive as archive
from cli.recovery.drill import (
    ARCHIVE_WAIT_S,
    WRITES_BEFORE,
    ApiTarget,
    ApiWriter,
    DrillFailed,
    DrillReport,
    compare,
    new_run_id,
    rows_of,
    write_after,
    write_markers,
)
from cli.recovery.times import iso

if TYPE_CHECKING:
    import psycopg

    from cli.local.postgres import Cluster


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

    run = new_run_id()
    report = DrillReport(stack=stack, run=run, started_at=iso(datetime.now(UTC)))
    report.worst_case_recovery_point_s = archive.ARCHIVE_TIMEOUT_S
    live_url = cluster.url(superuser=True, database=cluster.app_database)
    with cluster.connect() as conn:
        if _first(conn, "SHOW archive_mode") != "on":
            raise DrillFailed(
                "the local cluster keeps no WAL archive (archive_mode is off), so it cannot be restored to a point",
                hint="it was made before archiving existed: `infra destroy --stack local` and `infra up --stack local`",
            )
        segment_size = int(_first(conn, "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'"))
        timeline = int(_first(conn, "SELECT timeline_id FROM pg_control_checkpoint()"))
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
            target = _first(conn, "SELECT clock_timestamp()")
        report.restore_point = target.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        write_after(writer, report)
    finally:
        writer.close()

    with cluster.connect() as conn:
        end_lsn = str(_first(conn, "SELECT pg_switch_wal()"))
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


def _first(conn: psycopg.Connection[Any], query: LiteralString) -> Any:
    """The first column of a query that always returns one row."""
    row = conn.execute(query).fetchone()
    if row is None:
        raise DrillFailed(f"PostgreSQL returned no row for {query!r}")
    return row[0]


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


def drill_inputs(project_dir: Path) -> tuple[Cluster, ApiTarget]:
    """The running local stack's cluster and API; a stack that is not up is named with what to do."""
    from cli.local.services import DatabaseService
    from cli.local.stack import stack_for
    from cli.local.verbs import smoke_target
    from stacks import outputs as names

    stack = stack_for(project_dir)
    running = {state.name: state.state for state in stack.status()}
    if not running or any(state != "running" for state in running.values()):
        raise ConfigError(
            "the local stack is not running" + (f" ({running})" if running else ""),
            hint="start it with `infra up --stack local`",
        )
    cluster = next(s.cluster for s in stack.services() if isinstance(s, DatabaseService))
    # The application database is the one the program declares (the cluster itself creates none).
    cluster.app_database = stack.outputs()[names.DATABASE_NAME][0]
    target = smoke_target(project_dir, access=False)
    return cluster, ApiTarget(base_url=target.base_url, token=target.token or "", ca_file=target.ca_file)
