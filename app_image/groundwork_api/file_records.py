"""The files' metadata in PostgreSQL: the schema (an expand-only migration) and the queries, owner-scoped."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg

SCHEMA = """
CREATE TABLE IF NOT EXISTS stored_files (
    id           uuid PRIMARY KEY,
    owner        text NOT NULL CHECK (char_length(owner) >= 1),
    object_key   text NOT NULL UNIQUE,
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    content_type text NOT NULL CHECK (char_length(content_type) BETWEEN 3 AND 255),
    size         bigint NOT NULL CHECK (size > 0),
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS stored_files_owner ON stored_files (owner);
"""

# One owner's creations queue on a lock of their own, so two concurrent uploads cannot both fit under the cap.
_LOCK_OWNER = "SELECT pg_advisory_xact_lock(hashtextextended('stored_files:' || %s, 0))"
_USED = "SELECT coalesce(sum(size), 0)::bigint FROM stored_files WHERE owner = %s"
_INSERT = "INSERT INTO stored_files (id, owner, object_key, name, content_type, size) VALUES (%s, %s, %s, %s, %s, %s)"
_SELECT = "SELECT id, owner, object_key, name, content_type, size FROM stored_files WHERE id = %s"


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One file's metadata."""

    id: uuid.UUID
    owner: str
    object_key: str
    name: str
    content_type: str
    size: int


class OverQuota(Exception):
    """The owner's files would exceed the cap: what they use now and what the cap is."""

    def __init__(self, used: int, cap: int):
        super().__init__(f"{used} of {cap} bytes in use")
        self.used = used
        self.cap = cap


async def insert_within_cap(conn: psycopg.AsyncConnection, record: FileRecord, cap: int) -> None:
    """Record the file unless the owner's declared sizes would then exceed the cap (OverQuota)."""
    async with conn.transaction():
        await conn.execute(_LOCK_OWNER, (record.owner,))
        cursor = await conn.execute(_USED, (record.owner,))
        (used,) = await cursor.fetchone()
        if used + record.size > cap:
            raise OverQuota(used, cap)
        await conn.execute(
            _INSERT,
            (record.id, record.owner, record.object_key, record.name, record.content_type, record.size),
        )


async def select(conn: psycopg.AsyncConnection, file_id: uuid.UUID) -> FileRecord | None:
    cursor = await conn.execute(_SELECT, (file_id,))
    row = await cursor.fetchone()
    return None if row is None else FileRecord(*row)


async def delete(conn: psycopg.AsyncConnection, file_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM stored_files WHERE id = %s", (file_id,))
