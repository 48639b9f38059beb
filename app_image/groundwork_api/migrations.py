"""The schema's migrations, applied by a release step (`python -m groundwork_api.migrate`), checked by the service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import LiteralString

import psycopg

from . import events, file_records, idempotency, record_sql

MIGRATION_LOCK_ID = 0x67726F756E64
"""The advisory lock a migration holds exclusively and a check holds shared: a check waits for a migration."""


@dataclass(frozen=True)
class Migration:
    """One step of the schema. `expand` adds only (tables, nullable or defaulted columns, indexes), so the release
    before it keeps working on the new schema; `contract` removes what no release still running uses."""

    version: int
    phase: str
    statement: LiteralString


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "expand",
        """
        CREATE TABLE IF NOT EXISTS user_practice (
            user_id    text PRIMARY KEY CHECK (char_length(user_id) BETWEEN 1 AND 128),
            practice   jsonb NOT NULL,
            version    bigint NOT NULL DEFAULT 1,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """,
    ),
    Migration(2, "expand", idempotency.SCHEMA),
    Migration(3, "expand", events.SCHEMA),
    Migration(4, "expand", file_records.SCHEMA),
    Migration(5, "expand", record_sql.KEYED_WRITE_SCHEMA),
)
REQUIRED_VERSION = max(m.version for m in MIGRATIONS)
"""The schema this code needs; a database behind it is refused, one ahead of it (a newer release's) is served."""

_LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)
_LEDGER_EXISTS = "SELECT to_regclass('schema_migrations') IS NOT NULL"
_APPLIED = "SELECT coalesce(max(version), 0) FROM schema_migrations"


class SchemaBehind(Exception):
    """The database's schema is older than this code needs: the release's migration has not run."""

    def __init__(self, found: int, needed: int = REQUIRED_VERSION):
        super().__init__(
            f"the database's schema is at version {found}, this release needs {needed}: run the release's "
            "migration (python -m groundwork_api.migrate) before it serves"
        )
        self.found = found
        self.needed = needed


def migrate(conn: psycopg.Connection, up_to: int = REQUIRED_VERSION) -> list[int]:
    """Apply the migrations not yet applied, up to `up_to`, in one transaction under the exclusive lock; the
    versions applied. Replicas or tasks starting together serialise here; the second finds the work done."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        conn.execute(_LEDGER)
        done = {version for (version,) in conn.execute("SELECT version FROM schema_migrations").fetchall()}
        for migration in MIGRATIONS:
            if migration.version <= up_to and migration.version not in done:
                conn.execute(migration.statement)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (migration.version,))
                applied.append(migration.version)
    return applied


async def check(conn: psycopg.AsyncConnection, needed: int = REQUIRED_VERSION) -> int:
    """The schema version, under the shared lock (so a migration in progress is waited for, never half seen);
    raises SchemaBehind when it is older than `needed`. Reads only: the service never changes the schema."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (MIGRATION_LOCK_ID,))
        exists = await (await conn.execute(_LEDGER_EXISTS)).fetchone()
        found = 0
        if exists and exists[0]:
            row = await (await conn.execute(_APPLIED)).fetchone()
            found = int(row[0]) if row else 0
    if found < needed:
        raise SchemaBehind(found, needed)
    return found
