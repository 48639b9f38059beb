"""The bench's FastAPI peers of POST /map: the API's upsert alone, and with its features written the standard way.

FastAPI with a pydantic model for the body and a psycopg 3 pool, served like the image (gunicorn, uvicorn workers,
--preload). With PEER_FEATURES=1 the write does what the API's does, the way a FastAPI service usually does it: a
bearer token checked with PyJWT, a per-subject rate limit counted with INCR in Redis, an Idempotency-Key claimed in
the write's transaction (BEGIN, claim, look up on conflict, upsert with its outbox event, save the answer, COMMIT)
and the cache entry SET after the commit. The per-subject cap of live keys has no standard equivalent and is left
out. Started by bench/dataplane.py with DATABASE_URL (and CACHE_URL, CACHE_PASSWORD, JWT_SECRET) in the environment.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import orjson
import redis.asyncio as redis
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.responses import Response
from groundwork_api.db import UPSERT, user_json
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from bench.bare_app import open_pool

FEATURES = os.environ.get("PEER_FEATURES") == "1"
RATE_LIMIT = 1_000_000
RATE_WINDOW_S = 60
_CLAIM = """
INSERT INTO idempotency_keys (subject, key, fingerprint) VALUES (%s, %s, %s)
ON CONFLICT (subject, key) DO NOTHING RETURNING 1
"""
_LOOKUP = "SELECT fingerprint, status, body FROM idempotency_keys WHERE subject = %s AND key = %s"
_SAVE = "UPDATE idempotency_keys SET status = %s, body = %s WHERE subject = %s AND key = %s"

pool: AsyncConnectionPool  # opened in each worker by the lifespan, after the fork
cache: redis.Redis | None = None


class MapBody(BaseModel):
    user_id: str = Field(min_length=1, max_length=128)
    practice: dict[str, Any]


def subject(authorization: str = Header()) -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise HTTPException(401, "bearer token required")
    try:
        claims = jwt.decode(
            token, os.environ["JWT_SECRET"], algorithms=["HS256"], audience="groundwork-api", issuer="groundwork-tests"
        )
    except jwt.InvalidTokenError:
        raise HTTPException(401, "invalid token") from None
    return claims["sub"]


@contextlib.asynccontextmanager
async def lifespan(app):
    global pool, cache
    pool = await open_pool()
    if FEATURES:
        cache = redis.Redis.from_url(os.environ["CACHE_URL"], password=os.environ.get("CACHE_PASSWORD") or None)
    yield
    if cache is not None:
        await cache.aclose()
    await pool.close()


app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


def _params(body: MapBody) -> dict:
    write_by = datetime.now(UTC) + timedelta(seconds=2)
    return {
        "user_id": body.user_id,
        "user_json": user_json(body.user_id),
        "practice": Jsonb(body.practice),
        "write_by": write_by,
    }


if not FEATURES:

    @app.post("/map")
    async def map_practice(body: MapBody) -> Response:
        async with pool.connection() as conn:
            cursor = await conn.execute(UPSERT, _params(body))
            row = await cursor.fetchone()
        assert row is not None  # an upsert with RETURNING always returns its row
        _, _, record, inserted = row
        return Response(record, status_code=201 if inserted else 200, media_type="application/json")

else:

    @app.post("/map")
    async def map_practice_with_features(
        body: MapBody, sub: str = Depends(subject), idempotency_key: str | None = Header(default=None)
    ) -> Response:
        assert cache is not None  # opened by the lifespan with the features on
        if body.user_id != sub:
            raise HTTPException(403, "not your record")
        limit_key = f"limit:{int(datetime.now(UTC).timestamp()) // RATE_WINDOW_S}:{sub}"
        count = await cache.incr(limit_key)
        if count == 1:
            await cache.expire(limit_key, RATE_WINDOW_S)
        if count > RATE_LIMIT:
            raise HTTPException(429, "rate limited", headers={"Retry-After": str(RATE_WINDOW_S)})
        scope = hashlib.sha256(sub.encode()).digest()
        fingerprint = hashlib.sha256(orjson.dumps(body.model_dump(), option=orjson.OPT_SORT_KEYS)).digest()
        async with pool.connection() as conn, conn.transaction():
            if idempotency_key is not None:
                claimed = await (await conn.execute(_CLAIM, (scope, idempotency_key, fingerprint))).fetchone()
                if claimed is None:
                    found = await (await conn.execute(_LOOKUP, (scope, idempotency_key))).fetchone()
                    assert found is not None  # held by a committed claim
                    if bytes(found[0]) != fingerprint:
                        raise HTTPException(422, "idempotency key reused")
                    return Response(bytes(found[2]), status_code=found[1], headers={"Idempotent-Replayed": "true"})
            cursor = await conn.execute(UPSERT, _params(body))
            row = await cursor.fetchone()
            assert row is not None  # an upsert with RETURNING always returns its row
            _, version, record, inserted = row
            status = 201 if inserted else 200
            if idempotency_key is not None:
                await conn.execute(_SAVE, (status, record.encode(), scope, idempotency_key))
        await cache.set(f"practice:{body.user_id}", f"{version} {record}", ex=300)
        return Response(record, status_code=status, media_type="application/json")
