"""The local drill on a real PostgreSQL with its WAL archive, and the API started as the image starts it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.local import wal_archive as archive
from cli.local.drill import drill_local
from cli.recovery.drill import WRITES_AFTER, WRITES_BEFORE, ApiTarget, DrillFailed
from tests.conftest import mint_token
from tests.harness import Postgres


@pytest.fixture
def archived(scratch: Path) -> Iterator[Postgres]:
    """A throwaway cluster of this test's own, with a WAL archive and a first base backup."""
    server = Postgres(scratch / f"pg-drill-{os.urandom(3).hex()}").init(archive=True)
    yield server
    server.destroy()


@pytest.fixture
def api(archived: Postgres, start_app) -> ApiTarget:
    app = start_app(archived.url())
    return ApiTarget(base_url=app.base_url, token=mint_token(scope="map/admin"))


def _segments(server: Postgres) -> list[Path]:
    return sorted(p for p in archive.archive_dir(server.base).iterdir() if len(p.name) == 24)


def _more_segments(server: Postgres, count: int) -> None:
    """Writes and segment switches, so the archive holds several segments after the base backup."""
    with server.connect(server.app_database) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS filler (n int)")
        for _ in range(count):
            conn.execute("INSERT INTO filler SELECT generate_series(1, 200)")
            conn.execute("SELECT pg_switch_wal()")
            conn.execute("SELECT 1")
    # Wait for archive_command through the server's own statistics.
    with server.connect() as conn:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]
            last = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0]
            if last is not None and last < ready and len(_segments(server)) >= count:
                return
            time.sleep(0.05)
    raise AssertionError("the archive did not receive the segments")


def test_the_drill_finds_every_acknowledged_write_before_the_restore_point_and_none_after(archived, api) -> None:
    began = time.monotonic()
    report = drill_local(archived, api)
    took = time.monotonic() - began
    assert report.ok, report.to_json()
    assert report.writes_before == WRITES_BEFORE + 1
    assert report.writes_after == WRITES_AFTER
    assert report.rows_expected >= WRITES_BEFORE + 1
    assert report.rows_missing == []
    assert report.rows_after_present == []
    assert report.recovery_time_s is not None
    assert report.recovery_time_s > 0
    assert report.recovery_point_s is not None
    assert 0 <= report.recovery_point_s <= took, "the newest restored row was written during this drill"
    assert report.throwaway_removed
    assert not Path(report.throwaway).exists()
    # The live rows written after the restore point are really there: their absence from the restore is real.
    after = archived.query("SELECT count(*) FROM user_practice WHERE user_id LIKE %s", (f"drill-{report.run}-after-%",))
    assert after == [(WRITES_AFTER,)]


def test_a_missing_wal_segment_fails_the_drill_naming_the_gap(archived, api) -> None:
    _more_segments(archived, 3)
    gone = _segments(archived)[-2]
    gone.unlink()
    with pytest.raises(archive.ArchiveGap, match=rf"{gone.name} missing") as caught:
        drill_local(archived, api)
    assert caught.value.details["gap"] == [gone.name]
    assert not any(p.name.startswith("drill-") for p in archived.base.parent.iterdir())


def test_a_damaged_wal_segment_fails_the_drill_naming_it(archived, api) -> None:
    _more_segments(archived, 3)
    damaged = _segments(archived)[-2]
    with damaged.open("r+b") as handle:
        handle.seek(200)
        handle.write(b"\xa5" * 4000)
    with pytest.raises(archive.ArchiveGap, match=rf"WAL segment {damaged.name} .* is damaged"):
        drill_local(archived, api)


def test_an_archive_that_refuses_segments_fails_the_drill_naming_the_segment(archived, api) -> None:
    directory = archive.archive_dir(archived.base)
    directory.chmod(0o500)  # archive_command can no longer store a segment
    try:
        with pytest.raises(DrillFailed, match=r"WAL segment [0-9A-F]{24} .* was not archived: \d+ failed attempt"):
            drill_local(archived, api)
    finally:
        directory.chmod(0o700)


def test_a_cluster_without_an_archive_is_refused_before_any_write(scratch: Path) -> None:
    server = Postgres(scratch / f"pg-plain-{os.urandom(3).hex()}").init(archive=False)
    try:
        unreachable = ApiTarget(base_url="http://127.0.0.1:9", token="unused")
        with pytest.raises(DrillFailed, match="keeps no WAL archive"):
            drill_local(server, unreachable)
    finally:
        server.destroy()
