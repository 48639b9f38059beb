"""The database: a pooled connection that works behind transaction-mode poolers, the schema, and the queries."""

from __future__ import annotations

import asyncio
import math
import select
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from . import events, idempotency, logs, migrations, record_sql
from .settings import Settings, connection_params

set_json_dumps(orjson.dumps)
set_json_loads(orjson.loads)

# The write carries its own deadline: a server that was paused or slow and gets to it after the client has
# answered 503 writes nothing (clock skew between the hosts narrows or widens this by the skew). The write's event
# goes into the outbox in the same statement (events.RECORD_EVENT's insert, fed by the written row), so it exists
# exactly when the write committed, without BEGIN and COMMIT round trips. PostgreSQL builds the answer's JSON
# (record_sql.record_json), the same text a keyed write saves for its replays and a read answers.
UPSERT = """
WITH written AS (
    INSERT INTO user_practice AS t (user_id, practice)
    SELECT %(user_id)s, %(practice)s WHERE clock_timestamp() < %(write_by)s
    ON CONFLICT (user_id) DO UPDATE
        SET practice = EXCLUDED.practice, version = t.version + 1, updated_at = clock_timestamp()
    RETURNING t.user_id, t.practice, t.version, t.created_at, t.updated_at, (t.xmax = 0) AS inserted
), recorded AS (
    INSERT INTO event_outbox (user_id, version) SELECT user_id, version FROM written
)
SELECT w.user_id, w.version, RECORD, w.inserted FROM written w
""".replace("RECORD", record_sql.record_json("%(user_json)s", "w"))
SELECT_PRACTICE = "SELECT t.user_id, t.version, RECORD FROM user_practice t WHERE t.user_id = %(user_id)s".replace(
    "RECORD", record_sql.record_json("%(user_json)s", "t")
)
_KEYS_EXHAUSTED = "GW429"
_PAST_DEADLINE = "GW408"


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored practice: its version and the JSON answer that shows it."""

    user_id: str
    version: int
    body: bytes


def user_json(user_id: str) -> str:
    """The user_id as a JSON string, as the answers carry it."""
    return orjson.dumps(user_id).decode()


class DatabaseUnavailable(Exception):
    """The database could not answer within the deadline; the message says why, without secrets."""


class WriteOutcomeUnknown(DatabaseUnavailable):
    """The write (or its COMMIT) reached the database, and then the deadline passed or the connection was lost:
    it may have been stored or not. A retry with the same Idempotency-Key is safe; one without may store it twice."""


class _WrittenTooLate(Exception):
    """The database refused the write itself: it came after the write's deadline, so nothing was stored."""


class ValueRefused(Exception):
    """The database refused a value that passed validation; the request is at fault, nothing was written."""


# SQLSTATE classes that blame the data: 22 data exception (a number out of range, an untranslatable character),
# 23 integrity constraint violation, 54 program limit exceeded (a value too large for an index or a jsonb).
_REFUSALS = ("22", "23", "54")


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to a write: its status, its JSON body, and whether it replays an earlier answer."""

    status: int
    body: bytes
    replayed: bool = False
    stored: Stored | None = None
    """What this request wrote (None for a replay, which wrote nothing)."""


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One timed query: how long it took and which server answered."""

    latency_ms: float
    server_version: str


def _forget(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()  # retrieved so an abandoned query's failure is not reported as unhandled


async def _within(deadline: float, work):
    """Await work for at most the deadline, then walk away.

    Cancelling a query makes psycopg ask the server to cancel it and wait up to 5 s for the answer, which a
    stopped or paused server never gives; the abandoned task finishes that clean-up in the background.
    """
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait((task,), timeout=deadline)
    if not done:
        task.cancel()
        task.add_done_callback(_forget)
        raise TimeoutError
    return task.result()


def _closed_by_server(conn: psycopg.AsyncConnection) -> bool:
    """Whether an idle connection has something to read: only a server (or pooler) that closed or terminated it
    leaves that, so a write on it would fail without ever having reached the database."""
    try:
        readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(readable)


def _describe(exc: BaseException, deadline: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"database did not answer within the {deadline:g} s deadline"
    if isinstance(exc, PoolTimeout):
        return f"no database connection became available within the {deadline:g} s deadline"
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"database error: {first_line[:200]}"


def _with_iam_token(database_url: str, aws_region: str, options: dict):
    """A pool `kwargs` callable: the options plus a fresh RDS IAM auth token as the password, per new connection."""
    import botocore.session  # only deployments using IAM auth pay for the import

    params = connection_params(database_url)
    target = {"DBHostname": params["host"], "Port": int(params["port"]), "DBUsername": params["user"]}
    client = botocore.session.Session().create_client("rds", region_name=aws_region)

    async def options_with_token() -> dict:
        # Signing is local, but the first call and each credential refresh fetch the task role's credentials over
        # HTTP: kept off the event loop.
        token = await asyncio.to_thread(client.generate_db_auth_token, **target)
        return {**options, "password": token}

    return options_with_token


def _dump_exact(document: object) -> bytes:
    return orjson.dumps(document, default=idempotency.exact_number)


def _version_text(number: int) -> str:
    major, minor = divmod(number, 10000)
    return f"{major}.{minor}" if major >= 10 else f"{major}.{minor // 100}.{minor % 100}"


class Database:
    """Owns the connection pool; every call is bounded by the deadline so nothing waits on pooler timeouts."""

    def __init__(self, settings: Settings):
        self.deadline = settings.database_timeout
        connect_options = {
            # Transaction-mode poolers (PgBouncer, RDS Proxy) break server-side prepared statements.
            "prepare_threshold": None,
            "autocommit": True,
            "connect_timeout": max(2, math.ceil(settings.database_timeout)),
            "application_name": settings.service_name,
            # JSON leaves as UTF-8 bytes; the server converts to the database's encoding and refuses (22P05, a 422)
            # a character that encoding cannot hold, instead of storing the bytes read in another encoding.
            "client_encoding": "UTF8",
        }
        if settings.database_sslmode:
            connect_options["sslmode"] = settings.database_sslmode
        self.pool = AsyncConnectionPool(
            settings.database_url,
            kwargs=(
                _with_iam_token(settings.database_url, settings.aws_region, connect_options)
                if settings.database_iam_auth
                else connect_options
            ),
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            timeout=settings.database_timeout,
            open=False,
            name="api",
        )
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()

    async def open(self) -> None:
        """Start connecting in the background; the service answers even while the database is unreachable."""
        await self.pool.open(wait=False)

    async def close(self, grace: float) -> None:
        await self.pool.close(timeout=grace)

    def stats(self) -> dict[str, int]:
        """The pool's size, idle connections and waiting requests."""
        raw = self.pool.get_stats()
        return {
            "size": raw.get("pool_size", 0),
            "idle": raw.get("pool_available", 0),
            "waiting": raw.get("requests_waiting", 0),
            "max": raw.get("pool_max", 0),
        }

    async def round_trip(self) -> RoundTrip:
        """Time a trivial query through the pool, within the deadline."""
        started = time.perf_counter()
        try:
            version = await _within(self.deadline, self._select_one())
        except migrations.SchemaBehind as exc:
            raise DatabaseUnavailable(str(exc)) from None
        except (TimeoutError, PoolTimeout, psycopg.Error) as exc:
            raise DatabaseUnavailable(_describe(exc, self.deadline)) from None
        return RoundTrip((time.perf_counter() - started) * 1000, _version_text(version))

    async def _select_one(self) -> int:
        await self._ensure_schema()
        async with self.pool.connection() as conn:
            await conn.execute("SELECT 1")
            return conn.info.server_version

    async def upsert_practice(self, user_id: str, practice: dict, key: idempotency.Key | None = None) -> Outcome:
        """Insert or replace a user's practice and answer with the stored row; with a key, answer a retry the same.

        Numbers in practice are Decimals, stored exactly; the answer carries the stored document as PostgreSQL
        returns it, so it shows exactly what was written.
        """
        sent: list[bool] = [False]
        try:
            return await _within(self.deadline, self._write(user_id, practice, key, sent))
        except _WrittenTooLate:
            raise DatabaseUnavailable(_describe(TimeoutError(), self.deadline)) from None
        except migrations.SchemaBehind as exc:
            raise DatabaseUnavailable(str(exc)) from None
        except (TimeoutError, PoolTimeout, psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if sent[0]:
                raise WriteOutcomeUnknown(
                    f"{_describe(exc, self.deadline)} after the write was sent; it may or may not be stored"
                ) from None
            raise DatabaseUnavailable(_describe(exc, self.deadline)) from None
        except psycopg.Error as exc:
            if exc.sqlstate == _PAST_DEADLINE:
                raise DatabaseUnavailable(_describe(TimeoutError(), self.deadline)) from None
            if exc.sqlstate == _KEYS_EXHAUSTED and key is not None:
                raise idempotency.KeysExhausted(key.cap, int(exc.diag.message_primary or 1)) from None
            if (exc.sqlstate or "")[:2] in _REFUSALS:
                raise ValueRefused(_describe(exc, self.deadline).removeprefix("database error: ")) from None
            raise DatabaseUnavailable(_describe(exc, self.deadline)) from None

    async def _write(self, user_id: str, practice: dict, key: idempotency.Key | None, sent: list[bool]) -> Outcome:
        """The write, one statement committed on its own; `sent[0]` becomes true once it has gone out."""
        # The server-side deadline is a little earlier than ours, leaving time for the answer to travel.
        write_by = datetime.now(UTC) + timedelta(seconds=self.deadline - min(0.25, self.deadline / 4))
        params = {
            "user_id": user_id,
            "user_json": user_json(user_id),
            "practice": Jsonb(practice, dumps=_dump_exact),
            "write_by": write_by,
        }
        await self._ensure_schema()
        async with self.pool.connection() as conn:
            if _closed_by_server(conn):
                await conn.close()  # the pool drops a closed connection instead of handing it out again
                raise psycopg.OperationalError("the connection was closed by the server before the write was sent")
            sent[0] = True
            if key is None:
                cursor = await conn.execute(UPSERT, params)
                row = await cursor.fetchone()
                if row is None:
                    raise _WrittenTooLate
                stored_user_id, version, body_text, inserted = row
                body = body_text.encode()
                return Outcome(201 if inserted else 200, body, stored=Stored(stored_user_id, version, body))
            cursor = await conn.execute(record_sql.KEYED_WRITE, {**params, **key.params(), "cap": key.cap})
            row = await cursor.fetchone()
        assert row is not None  # the function answers one row or raises
        kind, status, body_text, version = row
        if kind == "reused":
            raise idempotency.KeyReused
        body = body_text.encode()
        if kind == "replay":
            return Outcome(status, body, replayed=True)
        return Outcome(status, body, stored=Stored(user_id, version, body))

    async def read_practice(self, user_id: str) -> Stored | None:
        """The user's stored practice, answered as the write answered it; None when there is none."""

        async def select(conn: psycopg.AsyncConnection) -> tuple | None:
            cursor = await conn.execute(SELECT_PRACTICE, {"user_id": user_id, "user_json": user_json(user_id)})
            return await cursor.fetchone()

        row = await self._read(select)
        return None if row is None else Stored(row[0], row[1], row[2].encode())

    async def read_summary(self, user_id: str) -> dict | None:
        """The worker's summary of the user's applied writes; None until it has applied one."""
        return await self._read(lambda conn: events.summary(conn, user_id))

    async def run(self, query):
        """Run query(conn) on a pooled connection within the deadline; DatabaseUnavailable when it cannot."""
        return await self._read(query)

    async def _read(self, query):
        async def go():
            await self._ensure_schema()
            async with self.pool.connection() as conn:
                return await query(conn)

        try:
            return await _within(self.deadline, go())
        except migrations.SchemaBehind as exc:
            raise DatabaseUnavailable(str(exc)) from None
        except (TimeoutError, PoolTimeout, psycopg.Error) as exc:
            raise DatabaseUnavailable(_describe(exc, self.deadline)) from None

    async def prune_idempotency_keys(self, ttl: float, every: float) -> None:
        """Delete expired idempotency keys now and then, for as long as the service runs."""
        while True:
            try:
                await _within(max(self.deadline, 30.0), self._prune(ttl))
            except migrations.SchemaBehind as exc:
                logs.emit("warning", "idempotency key pruning deferred", reason=str(exc))
            except (TimeoutError, PoolTimeout, psycopg.Error) as exc:
                logs.emit("warning", "idempotency key pruning deferred", reason=_describe(exc, self.deadline))
            await asyncio.sleep(every)

    async def _prune(self, ttl: float) -> None:
        await self._ensure_schema()
        async with self.pool.connection() as conn:
            deleted = idempotency.PRUNE_BATCH
            while deleted >= idempotency.PRUNE_BATCH:
                deleted = await idempotency.prune(conn, ttl)

    async def check_schema_in_background(self) -> None:
        """Check the schema as soon as the database answers; a schema behind this release is logged, and checked
        again until the release's migration has run (requests meanwhile answer 503)."""
        delay = 0.25
        while not self._schema_ready:
            try:
                await _within(max(self.deadline, 5.0), self._ensure_schema())
            except migrations.SchemaBehind as exc:
                logs.emit("error", "schema behind this release", reason=str(exc), found=exc.found, needed=exc.needed)
                await asyncio.sleep(5.0)
            except (TimeoutError, PoolTimeout, psycopg.Error) as exc:
                logs.emit("warning", "schema check deferred", reason=_describe(exc, self.deadline))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _ensure_schema(self) -> None:
        """Refuse to serve a database older than this release needs (the service never migrates it itself)."""
        if self._schema_ready:
            return
        async with self._schema_lock:
            if self._schema_ready:
                return
            async with self.pool.connection() as conn:
                await migrations.check(conn)
            self._schema_ready = True
