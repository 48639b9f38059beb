"""Events of acknowledged writes: a transactional outbox in PostgreSQL, relayed to a stream, applied once each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

STREAM = "groundwork:events"
"""The stream the outbox is relayed to."""
GROUP = "workers"
"""Consumer group every worker reads the stream in."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS event_outbox (
    id           bigserial PRIMARY KEY,
    user_id      text NOT NULL,
    version      bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS event_outbox_unpublished ON event_outbox (id) WHERE published_at IS NULL;
CREATE TABLE IF NOT EXISTS processed_events (
    event_id     bigint PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS user_summary (
    user_id      text PRIMARY KEY,
    writes       bigint NOT NULL,
    last_version bigint NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""
"""The outbox, the processed-event ledger and the per-user summary the worker keeps."""

RECORD_EVENT = "INSERT INTO event_outbox (user_id, version) VALUES (%s, %s)"
"""Run in the write's own transaction: the event exists exactly when the write committed."""

_CLAIM_UNPUBLISHED = """
SELECT id, user_id, version FROM event_outbox
WHERE published_at IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
"""
_MARK_PUBLISHED = "UPDATE event_outbox SET published_at = clock_timestamp() WHERE id = ANY(%s)"
_CLAIM_EVENT = "INSERT INTO processed_events (event_id) VALUES (%s) ON CONFLICT DO NOTHING RETURNING event_id"
_APPLY_EVENT = """
INSERT INTO user_summary AS s (user_id, writes, last_version) VALUES (%s, 1, %s)
ON CONFLICT (user_id) DO UPDATE
    SET writes = s.writes + 1, last_version = GREATEST(s.last_version, EXCLUDED.last_version),
        updated_at = clock_timestamp()
"""
# Published events the stream no longer holds (a cache restarted without its data, a failover that lost the last
# writes, trimming): only asked when the stream is drained, so an event published a while ago and not applied is
# known lost, and is published again. The newest `window` ids are looked at, through the primary key.
_REQUEUE_LOST = """
UPDATE event_outbox SET published_at = NULL
WHERE id IN (
    SELECT o.id FROM event_outbox o
    WHERE o.id > (SELECT coalesce(max(id), 0) FROM event_outbox) - %(window)s
      AND o.published_at < clock_timestamp() - make_interval(secs => %(settle)s)
      AND NOT EXISTS (SELECT 1 FROM processed_events p WHERE p.event_id = o.id)
    ORDER BY o.id LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
"""
# A whole batch in one statement (one transaction): the events not yet in the ledger are claimed, and only they are
# counted in their users' summaries; rows are taken in a fixed order so concurrent workers do not deadlock.
_APPLY_BATCH = """
WITH batch AS (
    SELECT DISTINCT ON (event_id) event_id, user_id, version
    FROM unnest(%(ids)s::bigint[], %(users)s::text[], %(versions)s::bigint[]) AS b(event_id, user_id, version)
    ORDER BY event_id
), claimed AS (
    INSERT INTO processed_events (event_id) SELECT event_id FROM batch ORDER BY event_id
    ON CONFLICT DO NOTHING RETURNING event_id
), summed AS (
    INSERT INTO user_summary AS s (user_id, writes, last_version)
    SELECT b.user_id, count(*), max(b.version) FROM batch b JOIN claimed c USING (event_id)
    GROUP BY b.user_id ORDER BY b.user_id
    ON CONFLICT (user_id) DO UPDATE
        SET writes = s.writes + EXCLUDED.writes, last_version = GREATEST(s.last_version, EXCLUDED.last_version),
            updated_at = clock_timestamp()
)
SELECT count(*) FROM claimed
"""
_SUMMARY = "SELECT user_id, writes, last_version, updated_at FROM user_summary WHERE user_id = %s"
_BACKLOG = "SELECT count(*) FROM event_outbox WHERE published_at IS NULL"
_PRUNE = """
WITH gone_events AS (
    DELETE FROM processed_events WHERE processed_at < clock_timestamp() - make_interval(days => %(days)s) RETURNING 1
), gone_outbox AS (
    DELETE FROM event_outbox
    WHERE published_at IS NOT NULL AND published_at < clock_timestamp() - make_interval(days => %(days)s)
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone_events), (SELECT count(*) FROM gone_outbox)
"""


@dataclass(frozen=True, slots=True)
class Event:
    """One acknowledged write: whose practice, and the version it produced."""

    id: int
    user_id: str
    version: int

    def fields(self) -> dict[str, str]:
        return {"id": str(self.id), "user_id": self.user_id, "version": str(self.version)}

    @classmethod
    def from_fields(cls, fields: dict) -> Event:
        text = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()
        }
        return cls(int(text["id"]), text["user_id"], int(text["version"]))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def relay(conn: psycopg.AsyncConnection, publish, batch: int = 100) -> int:
    """Publishes up to `batch` unpublished events in order and marks them; returns how many.

    The rows stay locked until they are marked, so two relays never publish the same row; a publish that fails
    rolls the marking back and the rows are published again later (at least once, never lost).
    """
    async with conn.transaction():
        cursor = await conn.execute(_CLAIM_UNPUBLISHED, (batch,))
        events = [Event(*row) for row in await cursor.fetchall()]
        if not events:
            return 0
        await publish(events)
        await conn.execute(_MARK_PUBLISHED, ([event.id for event in events],))
    return len(events)


async def apply(conn: psycopg.AsyncConnection, event: Event) -> bool:
    """Applies the event to the user's summary once; False when it was applied before (a redelivery)."""
    async with conn.transaction():
        cursor = await conn.execute(_CLAIM_EVENT, (event.id,))
        if await cursor.fetchone() is None:
            return False
        await conn.execute(_APPLY_EVENT, (event.user_id, event.version))
    return True


async def requeue_lost(conn: psycopg.AsyncConnection, settle_s: float = 5, window: int = 100_000) -> int:
    """Marks published-but-unapplied events older than `settle_s` unpublished again; call only on a drained stream."""
    cursor = await conn.execute(_REQUEUE_LOST, {"window": window, "settle": settle_s, "batch": 10_000})
    return cursor.rowcount


async def apply_batch(conn: psycopg.AsyncConnection, batch: list[Event]) -> int:
    """Applies each event of the batch once, all in one transaction; returns how many were new."""
    params = {
        "ids": [event.id for event in batch],
        "users": [event.user_id for event in batch],
        "versions": [event.version for event in batch],
    }
    cursor = await conn.execute(_APPLY_BATCH, params)
    (applied,) = await _one_row(cursor)
    return int(applied)


async def summary(conn: psycopg.AsyncConnection, user_id: str) -> dict | None:
    """The user's summary: writes applied and the last version seen."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(_SUMMARY, (user_id,))
    return await cursor.fetchone()


async def backlog(conn: psycopg.AsyncConnection) -> int:
    """Events not yet relayed."""
    cursor = await conn.execute(_BACKLOG)
    (count,) = await _one_row(cursor)
    return int(count)


async def prune(conn: psycopg.AsyncConnection, days: int) -> tuple[int, int]:
    """Deletes ledger entries and relayed outbox rows older than `days`; returns both counts."""
    cursor = await conn.execute(_PRUNE, {"days": days})
    ledger, outbox = await _one_row(cursor)
    return int(ledger), int(outbox)


async def _one_row(cursor: psycopg.AsyncCursor[Any]) -> tuple[Any, ...]:
    """The row of a query that always returns exactly one (an aggregate or a statement's totals)."""
    row = await cursor.fetchone()
    if row is None:
        raise RuntimeError("the query returned no row")
    return row
