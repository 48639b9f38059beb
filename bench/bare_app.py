"""The bench's bare reference: Starlette and a psycopg 3 pool with the API's SQL, and nothing else.

No middleware, no request ids, access log, metrics, authentication, validation or deadlines: what the hardened API
costs is its throughput divided by this one's, served the same way (gunicorn, uvicorn workers, --preload).
Started by bench/dataplane.py with `gunicorn ... bench.bare_app:app` and DATABASE_URL in the environment.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from groundwork_api.db import UPSERT, user_json
from groundwork_api.migrations import MIGRATIONS
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

STARTED = time.monotonic()
pool: AsyncConnectionPool  # opened in each worker by the lifespan, after the fork


def _json(body: object, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


async def heartbeat(request: Request) -> Response:
    started = time.perf_counter()
    async with pool.connection() as conn:
        await conn.execute("SELECT 1")
        version = conn.info.server_version
    stats = pool.get_stats()
    return _json(
        {
            "service": "bare",
            "uptime_s": round(time.monotonic() - STARTED, 3),
            "status": "ok",
            "database": {"ok": True, "latency_ms": (time.perf_counter() - started) * 1000, "server_version": version},
            "pool": {"size": stats.get("pool_size", 0), "idle": stats.get("pool_available", 0)},
        }
    )


async def map_practice(request: Request) -> Response:
    payload = orjson.loads(await request.body())
    write_by = datetime.now(UTC) + timedelta(seconds=2)
    user_id = payload["user_id"]
    params = {"user_id": user_id, "user_json": user_json(user_id), "practice": Jsonb(payload["practice"])}
    async with pool.connection() as conn:
        cursor = await conn.execute(UPSERT, params | {"write_by": write_by})
        row = await cursor.fetchone()
        assert row is not None  # an upsert with RETURNING always returns its row
    _, _, record, inserted = row
    return Response(record, status_code=201 if inserted else 200, media_type="application/json")


async def open_pool() -> AsyncConnectionPool[Any]:
    """The reference's pool, opened in the worker after the fork, on a database brought to the API's schema."""
    opened = AsyncConnectionPool(
        os.environ["DATABASE_URL"],
        kwargs={"prepare_threshold": None, "autocommit": True},
        min_size=2,
        max_size=10,
        open=False,
    )
    await opened.open()
    async with opened.connection() as conn:
        for migration in MIGRATIONS:
            await conn.execute(migration.statement)
    return opened


@contextlib.asynccontextmanager
async def lifespan(app):
    global pool
    pool = await open_pool()
    yield
    await pool.close()


app = Starlette(
    routes=[Route("/heartbeat", heartbeat, methods=["GET"]), Route("/map", map_practice, methods=["POST"])],
    lifespan=lifespan,
)
