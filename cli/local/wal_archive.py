"""A local cluster's WAL archive and base backups (archive_command, pg_basebackup), checked and restored."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cli.core.errors import OperationFailed
from cli.local.binaries import postgres_bin
from cli.local.processes import as_service_user, free_port, give_to_service_user, log_tail, ours, read_pid

ARCHIVE_TIMEOUT_S = 300
"""A WAL segment is archived at least this often while there are writes: the worst-case loss if the disk dies."""
_SEGMENT = re.compile(r"[0-9A-F]{24}")
_LABEL_LSN = re.compile(r"START WAL LOCATION: ([0-9A-F]+/[0-9A-F]+) \(file ([0-9A-F]{24})\)")
_LABEL_TIME = re.compile(r"START TIME: (.+)")
_LABEL_TIMELINE = re.compile(r"START TIMELINE: (\d+)")
_WALDUMP_ERROR = re.compile(r"error in WAL record at ([0-9A-F]+/[0-9A-F]+): (.*)")
_MISSING_FILE = re.compile(r'could not (?:find|open) file "?([^"\s]*?([0-9A-F]{24}))"?')


class ArchiveGap(OperationFailed):
    """The WAL archive cannot carry a restore to the point asked: a segment is missing or damaged."""


class RestoreFailed(OperationFailed):
    """A restored cluster did not reach the restore point and open."""


def archive_dir(base: Path) -> Path:
    return base / "wal-archive"


def backups_dir(base: Path) -> Path:
    return base / "base-backups"


def prepare(base: Path) -> str:
    """Create the archive and backup directories; return the postgresql.conf lines that archive every segment."""
    archive = archive_dir(base)
    if "'" in str(archive):
        raise OperationFailed(f"{archive} contains a quote; the WAL archive needs a plain path", hint="move the stack")
    for directory in (archive, backups_dir(base)):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        give_to_service_user(directory)
    # Copy then rename, so a crash never leaves a half-written segment under its final name; never overwrite one.
    command = f"test ! -f '{archive}/%f' && cp %p '{archive}/%f.part' && mv '{archive}/%f.part' '{archive}/%f'"
    return f"archive_mode = on\narchive_command = '{command.replace(chr(39), chr(39) * 2)}'\n" + (
        f"archive_timeout = {ARCHIVE_TIMEOUT_S}\n"
    )


def run_as_service(cmd: list[str], *, password: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a PostgreSQL program as the service user; the superuser password goes through the environment only."""
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    return subprocess.run(
        as_service_user(cmd),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def base_backup(base: Path, port: int, superuser_password: str) -> Path:
    """A plain-format base backup of the running cluster, with the WAL it needs, under base-backups/<UTC time>."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = backups_dir(base) / stamp
    cmd = [str(postgres_bin() / "pg_basebackup"), "-D", str(target), "-h", "127.0.0.1", "-p", str(port)]
    result = run_as_service(
        [*cmd, "-U", "postgres", "--checkpoint=fast", "--wal-method=stream", "--no-password"],
        password=superuser_password,
    )
    if result.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise OperationFailed(f"pg_basebackup failed ({result.returncode}): {result.stderr.strip()}")
    return target


@dataclass(frozen=True)
class BaseBackup:
    """A base backup: where it is, where its WAL starts, and when it started."""

    path: Path
    start_lsn: str
    start_segment: str
    timeline: int
    started: datetime


def base_backups(base: Path) -> list[BaseBackup]:
    """The cluster's base backups, oldest first (a directory without a readable backup_label is not one)."""
    found = []
    directory = backups_dir(base)
    for path in sorted(directory.iterdir()) if directory.is_dir() else []:
        label = path / "backup_label"
        if not label.is_file():
            continue
        text = label.read_text()
        lsn, timeline, started = _LABEL_LSN.search(text), _LABEL_TIMELINE.search(text), _LABEL_TIME.search(text)
        if not (lsn and timeline and started):
            continue
        when = _started(path.name, started.group(1).strip())
        if when is None:
            continue
        found.append(BaseBackup(path, lsn.group(1), lsn.group(2), int(timeline.group(1)), when))
    return sorted(found, key=lambda b: b.started)


def _started(name: str, label_time: str) -> datetime | None:
    """When a backup started: the UTC stamp it was named with (taken just before), else the label's time in UTC."""
    for text, layout in ((name, "%Y%m%dT%H%M%S%fZ"), (label_time, "%Y-%m-%d %H:%M:%S UTC")):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def lsn_value(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def segment_name(timeline: int, lsn: int, segment_size: int) -> str:
    """The WAL file holding byte `lsn` of the timeline, as PostgreSQL names it."""
    number, per_id = lsn // segment_size, 0x100000000 // segment_size
    return f"{timeline:08X}{number // per_id:08X}{number % per_id:08X}"


def expected_segments(timeline: int, start: int, end: int, segment_size: int) -> list[str]:
    """Every segment from the one holding `start` to the one holding the last byte before `end`."""
    first, last = start // segment_size, max(start, end - 1) // segment_size
    return [segment_name(timeline, n * segment_size, segment_size) for n in range(first, last + 1)]


def check_archive(archive: Path, backup: BaseBackup, end_lsn: str, segment_size: int) -> list[str]:
    """The segments a restore to `end_lsn` replays; ArchiveGap names a missing one or the damaged one."""
    needed = expected_segments(backup.timeline, lsn_value(backup.start_lsn), lsn_value(end_lsn), segment_size)
    present = {p.name for p in archive.iterdir() if _SEGMENT.fullmatch(p.name)} if archive.is_dir() else set()
    missing = [name for name in needed if name not in present]
    if missing:
        raise ArchiveGap(
            f"WAL segment(s) {', '.join(missing)} missing from {archive}: the archive has a gap, so no restore can "
            f"pass {missing[0]} (needed: {needed[0]} to {needed[-1]})",
            hint="take a new base backup after the gap (its restores start there); find why archive_command lost "
            "the file in the PostgreSQL log",
            details={"gap": missing, "needed": [needed[0], needed[-1]]},
        )
    # pg_waldump reads every record from the backup's start to the end: damage shows as a record it cannot read.
    result = run_as_service(
        [
            str(postgres_bin() / "pg_waldump"),
            f"--path={archive}",
            f"--timeline={backup.timeline}",
            f"--start={backup.start_lsn}",
            f"--end={end_lsn}",
            "--quiet",
        ]
    )
    if result.returncode != 0:
        message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        damaged = _WALDUMP_ERROR.search(result.stderr)
        where = segment_name(backup.timeline, lsn_value(damaged.group(1)), segment_size) if damaged else None
        missing_file = _MISSING_FILE.search(result.stderr)
        if missing_file:
            where = missing_file.group(2)
        raise ArchiveGap(
            f"WAL segment {where or '(unknown)'} in {archive} is damaged or unreadable: {message}; a restore "
            "stops there",
            hint="take a new base backup (restores after it do not need the damaged segment); check the disk",
            details={"gap": [where] if where else [], "needed": [needed[0], needed[-1]]},
        )
    return needed


@dataclass
class RestoredCluster:
    """A cluster restored from a base backup and the archive, on a port and in a directory of its own."""

    base: Path
    port: int
    superuser_password: str

    @property
    def data(self) -> Path:
        return self.base / "pgdata"

    @property
    def log(self) -> Path:
        return self.base / "postgres.log"

    def url(self, database: str) -> str:
        return f"postgresql://postgres:{self.superuser_password}@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        """Stop it (immediately: it is thrown away) and delete its directory."""
        if ours(read_pid(self.data / "postmaster.pid"), str(self.data)) is not None:
            run_as_service([str(postgres_bin() / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.base, ignore_errors=True)


def start_restore(
    backup: BaseBackup, archive: Path, target: datetime, base: Path, superuser_password: str
) -> RestoredCluster:
    """Copy the base backup to a new directory and start it recovering to `target` from the archive."""
    restored = RestoredCluster(base=base, port=free_port(), superuser_password=superuser_password)
    base.mkdir(mode=0o700, parents=True)
    give_to_service_user(base)
    copied = run_as_service(["cp", "-a", str(backup.path), str(restored.data)])
    if copied.returncode != 0:
        raise RestoreFailed(f"could not copy the base backup {backup.path}: {copied.stderr.strip()}")
    # Appended last, so they win over the live cluster's own lines: another port and socket, no archiving of its
    # own (its WAL must never land in the live archive), and recovery to the target from the archive.
    overrides = (
        "\n# point-in-time restore\n"
        f"port = {restored.port}\n"
        f"unix_socket_directories = '{base}'\n"
        "archive_mode = off\n"
        f'restore_command = \'cp "{archive}/%f" "%p"\'\n'
        f"recovery_target_time = '{target.astimezone(UTC).isoformat()}'\n"
        "recovery_target_action = 'promote'\n"
    )
    _append_as_service(restored.data / "postgresql.auto.conf", overrides)
    _append_as_service(restored.data / "recovery.signal", "")
    started = run_as_service(
        [str(postgres_bin() / "pg_ctl"), "-D", str(restored.data), "-l", str(restored.log), "-w", "-t", "120", "start"]
    )
    if started.returncode != 0:
        raise RestoreFailed(_why_not(restored, target), hint=f"the restored cluster's log: {restored.log}")
    return restored


def _append_as_service(path: Path, text: str) -> None:
    result = subprocess.run(
        as_service_user(["tee", "-a", str(path)]), input=text, capture_output=True, text=True, timeout=10, check=False
    )
    if result.returncode != 0:
        raise RestoreFailed(f"could not write {path}: {result.stderr.strip()}")


def _why_not(restored: RestoredCluster, target: datetime) -> str:
    """The reason a restore stopped, from the restored cluster's log: its FATAL line and the segment it lacked."""
    text = log_tail(restored.log, 6000)
    fatal = [line.split("FATAL:", 1)[1].strip() for line in text.splitlines() if "FATAL:" in line]
    missing = _MISSING_FILE.findall(text)
    detail = fatal[-1] if fatal else (text.strip().splitlines() or ["no log"])[-1]
    lacking = f"; last segment it could not read: {missing[-1][1]}" if missing else ""
    return f"the restore to {target.isoformat()} did not open: {detail}{lacking}"


def wait_promoted(
    restored: RestoredCluster,
    database: str,
    target: datetime,
    timeout: float = 120,
    clock: Callable[[], float] = time.monotonic,
) -> float:
    """Wait until the restored cluster has replayed to the target and opened for writes; returns `clock()` then."""
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ours(read_pid(restored.data / "postmaster.pid"), str(restored.data)) is None:
            raise RestoreFailed(_why_not(restored, target), hint=f"the restored cluster's log: {restored.log}")
        try:
            with psycopg.connect(restored.url(database), autocommit=True, connect_timeout=2) as conn:
                row = conn.execute("SELECT NOT pg_is_in_recovery()").fetchone()
                if row is not None and row[0]:
                    return clock()
        except psycopg.OperationalError:
            pass
        time.sleep(0.05)
    raise RestoreFailed(
        f"the restored cluster did not reach {target.isoformat()} within {timeout:.0f} s",
        hint=f"see {restored.log}",
    )
