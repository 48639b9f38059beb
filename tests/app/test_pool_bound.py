"""200 concurrent requests stay within the pool's bound, all succeed, and every acknowledged write is stored."""

from __future__ import annotations

import asyncio
import threading
import uuid

import httpx
import pytest

from tests.app.tokens import admin_token
from tests.harness import PgBouncer, Postgres

REQUESTS = 200
WORKERS = 2
POOL_MAX = 4


class BackendSampler(threading.Thread):
    """Counts the app role's server connections in pg_stat_activity while the burst runs."""

    def __init__(self, postgres):
        super().__init__(daemon=True)
        self.postgres = postgres
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self):
        with self.postgres.connect() as conn:
            while not self.stop.is_set():
                count = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (self.postgres.app_user,)
                ).fetchone()[0]
                self.samples.append(count)


async def _burst(base_url: str, run_id: str) -> list[tuple[str, httpx.Response]]:
    token = admin_token()
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:

        async def one(i: int):
            if i % 2:
                return "heartbeat", await client.get("/heartbeat")
            body = {"user_id": f"{run_id}-{i}", "practice": {"i": i}}
            return body["user_id"], await client.post("/map", json=body, headers={"Authorization": f"Bearer {token}"})

        return await asyncio.gather(*(one(i) for i in range(REQUESTS)))


@pytest.fixture(scope="module")
def quiet_database(scratch):
    """A cluster only this module's apps connect to, so pg_stat_activity counts nothing else."""
    server = Postgres(scratch / "pg-pool-bound").init()
    bouncer = PgBouncer(server, scratch / "pgbouncer-pool-bound").start()
    yield server, bouncer
    bouncer.stop()
    server.destroy()


@pytest.mark.parametrize("path", ["direct", "pooled"])
def test_concurrent_burst_respects_the_pool_bound(quiet_database, start_app, path):
    postgres, pgbouncer = quiet_database
    url = postgres.url() if path == "direct" else pgbouncer.url()
    app = start_app(url, WORKERS=str(WORKERS), POOL_MIN_SIZE="1", POOL_MAX_SIZE=str(POOL_MAX))
    run_id = f"burst-{uuid.uuid4().hex[:8]}"
    sampler = BackendSampler(postgres)
    sampler.start()
    try:
        results = asyncio.run(_burst(app.base_url, run_id))
    finally:
        sampler.stop.set()
        sampler.join()

    statuses = [response.status_code for _, response in results]
    assert all(status in (200, 201) for status in statuses), sorted(set(statuses))
    bound = WORKERS * POOL_MAX if path == "direct" else pgbouncer.pool_size
    assert max(sampler.samples) <= bound, f"{max(sampler.samples)} server connections exceed {bound}"
    assert max(sampler.samples) >= 1

    acknowledged = {key: response.json()["version"] for key, response in results if key != "heartbeat"}
    stored = dict(postgres.query("SELECT user_id, version FROM user_practice WHERE user_id LIKE %s", (run_id + "-%",)))
    assert stored == acknowledged
    assert len(stored) == REQUESTS // 2
