"""The event path on real PostgreSQL and Redis: outbox, relay, worker, redelivery, outages and SIGTERM."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import trustme

from tests.harness import APP_DIR, Postgres
from tests.redis_server import RedisServer

sys.path.insert(0, str(APP_DIR))
from groundwork_api import events, migrations
from groundwork_api.cache import Cache, CacheSettings, CacheUnavailable
from groundwork_api.ratelimit import Decision, SubjectLimiter
from groundwork_api.worker import Worker, WorkerSettings


@pytest.fixture(scope="module")
def database(scratch):
    server = Postgres(scratch / "events-pg").init()
    # The service's own role creates its tables, as the release's migration step does.
    with psycopg.connect(_url(server), autocommit=True) as conn:
        migrations.migrate(conn)
    yield server
    server.destroy()


@pytest.fixture
def redis_server(scratch):
    server = RedisServer(scratch / f"redis-{secrets.token_hex(4)}", password=secrets.token_urlsafe(16)).start()
    yield server
    server.stop()


@pytest.fixture
def clean(database):
    with database.connect(database.app_database) as conn:
        conn.execute("TRUNCATE event_outbox, processed_events, user_summary")


def _url(database: Postgres) -> str:
    return f"postgresql://{database.app_user}:{database.app_password}@127.0.0.1:{database.port}/{database.app_database}"


def _write(database: Postgres, user_id: str, version: int) -> None:
    """What POST /map does: the write's event in the write's own transaction."""
    with database.connect(database.app_database) as conn, conn.transaction():
        conn.execute(events.RECORD_EVENT, (user_id, version))


def _settings(database: Postgres, redis_server: RedisServer, **kw) -> WorkerSettings:
    cache = CacheSettings(url=redis_server.url, password=redis_server.password)
    return WorkerSettings(
        database_url=_url(database), cache=cache, idle_wait_ms=50, metric_interval=0.2, lost_check_interval=0.2, **kw
    )


def _run_until(worker: Worker, done) -> None:
    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + 20
        while not await asyncio.to_thread(done) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(go())


def _summary(database: Postgres) -> dict[str, tuple[int, int]]:
    rows = database.query("SELECT user_id, writes, last_version FROM user_summary")
    return {user: (writes, version) for user, writes, version in rows}


def _applied(database: Postgres) -> int:
    return database.query("SELECT count(*) FROM processed_events")[0][0]


def test_every_write_becomes_one_event_applied_once(database, redis_server, clean) -> None:
    for version in range(1, 6):
        _write(database, "alice", version)
    _write(database, "bob", 1)
    _run_until(Worker(_settings(database, redis_server)), lambda: _applied(database) == 6)
    assert _summary(database) == {"alice": (5, 5), "bob": (1, 1)}
    assert database.query("SELECT count(*) FROM event_outbox WHERE published_at IS NULL")[0][0] == 0


def test_a_batch_applies_only_its_new_events_once_each(database, clean) -> None:
    async def go() -> tuple[int, int]:
        async with await psycopg.AsyncConnection.connect(_url(database), autocommit=True) as conn:
            await events.apply(conn, events.Event(1, "hana", 1))
            batch = [events.Event(1, "hana", 1), events.Event(2, "hana", 2), events.Event(2, "hana", 2)]
            batch.append(events.Event(3, "ivan", 7))
            return await events.apply_batch(conn, batch), await events.apply_batch(conn, batch)

    first, again = asyncio.run(go())
    assert (first, again) == (2, 0), "event 1 was applied before; event 2 appears twice in the batch"
    assert _summary(database) == {"hana": (2, 2), "ivan": (1, 7)}


def test_events_the_stream_lost_are_published_again(database, redis_server, clean) -> None:
    # Published (marked) but never applied, as after a cache restart that lost the stream's data.
    with database.connect(database.app_database) as conn:
        for version in (1, 2, 3):
            conn.execute(
                "INSERT INTO event_outbox (user_id, version, published_at) VALUES (%s, %s, now() - interval '1 min')",
                ("lost", version),
            )
    _write(database, "kept", 1)
    _run_until(Worker(_settings(database, redis_server)), lambda: _applied(database) == 4)
    assert _summary(database) == {"lost": (3, 3), "kept": (1, 1)}


def test_applying_a_write_drops_an_older_cached_read(database, redis_server, clean) -> None:
    # As when the API's own refresh after the write did not reach the cache: the entry still holds version 1.
    cache = Cache(CacheSettings(url=redis_server.url, password=redis_server.password))

    async def cached(put: bool) -> tuple[bytes | None, bytes | None]:
        if put:
            await cache.put_practice("stale", 1, b'{"version":1}')
            await cache.put_practice("fresh", 3, b'{"version":3}')
        found = await cache.get_practice("stale"), await cache.get_practice("fresh")
        await cache.close()
        return found

    asyncio.run(cached(put=True))
    _write(database, "stale", 2)
    _write(database, "fresh", 2)
    _run_until(Worker(_settings(database, redis_server)), lambda: _applied(database) == 2)
    cache = Cache(CacheSettings(url=redis_server.url, password=redis_server.password))
    assert asyncio.run(cached(put=False)) == (None, b'{"version":3}'), "older entries go, newer ones stay"


def test_a_redelivered_event_changes_nothing(database, clean) -> None:
    async def go() -> tuple[bool, bool]:
        async with await psycopg.AsyncConnection.connect(_url(database), autocommit=True) as conn:
            event = events.Event(41, "carol", 3)
            return await events.apply(conn, event), await events.apply(conn, event)

    first, again = asyncio.run(go())
    assert (first, again) == (True, False)
    assert _summary(database) == {"carol": (1, 3)}


def test_writes_made_while_the_queue_is_down_are_delivered_once_it_is_back(database, redis_server, clean) -> None:
    redis_server.stop()
    for version in range(1, 21):
        _write(database, "dave", version)
    worker = Worker(_settings(database, redis_server))

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        while worker.retries < 2:  # the worker has tried the stopped queue, and keeps trying
            await asyncio.sleep(0.02)
        assert _applied(database) == 0
        await asyncio.to_thread(redis_server.start)
        deadline = time.monotonic() + 20
        while _applied(database) < 20 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(go())
    assert _summary(database) == {"dave": (20, 20)}


def test_a_worker_stopped_mid_work_loses_nothing_and_applies_nothing_twice(database, redis_server, clean) -> None:
    total = 150
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": _url(database),
        "CACHE_URL": redis_server.url,
        "CACHE_PASSWORD": redis_server.password,
        "WORKER_BATCH": "5",
    }
    first = subprocess.Popen([sys.executable, "-m", "groundwork_api.worker"], cwd=APP_DIR, env=env)
    try:
        writer = psycopg.connect(_url(database), autocommit=True)
        for version in range(1, total + 1):
            with writer.transaction():
                writer.execute(events.RECORD_EVENT, (f"user-{version % 7}", version))
            if version == total // 2:
                deadline = time.monotonic() + 20
                while _applied(database) == 0 and time.monotonic() < deadline:
                    time.sleep(0.02)
                first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
        writer.close()
    finally:
        if first.poll() is None:
            first.kill()
    _run_until(Worker(_settings(database, redis_server)), lambda: _applied(database) == total)
    summary = _summary(database)
    assert sum(writes for writes, _ in summary.values()) == total
    assert _applied(database) == total


def test_cached_entries_never_go_back_to_an_older_version(redis_server) -> None:
    cache = Cache(CacheSettings(url=redis_server.url, password=redis_server.password))

    async def go() -> tuple:
        newer = await cache.put_practice("erin", 2, b'{"version":2,"n":1e-400}')
        older = await cache.put_practice("erin", 1, b'{"version":1}')
        found = await cache.get_practice("erin")
        kept = await cache.drop_older("erin", 2)
        dropped = await cache.drop_older("erin", 3)
        gone = await cache.get_practice("erin")
        latency = await cache.round_trip()
        await cache.close()
        return newer, older, found, kept, dropped, gone, latency

    newer, older, found, kept, dropped, gone, latency = asyncio.run(go())
    assert (newer, older) == (True, False)
    assert found == b'{"version":2,"n":1e-400}', "the record comes back byte for byte"
    assert (kept, dropped, gone) == (False, True, None)
    assert latency > 0


def test_a_cache_that_is_down_is_a_miss_within_the_deadline(redis_server) -> None:
    redis_server.stop()
    cache = Cache(CacheSettings(url=redis_server.url, password=redis_server.password, timeout=0.3))

    async def go() -> tuple:
        found = await cache.get_practice("frank")
        stored = await cache.put_practice("frank", 1, b"{}")
        with pytest.raises(CacheUnavailable):
            await cache.read_practice("frank")
        await cache.close()
        return found, stored

    # Each call is bounded by the cache's deadline: unbounded, they would outlast this far longer wait.
    found, stored = asyncio.run(asyncio.wait_for(go(), 60))
    assert found is None
    assert stored is False


def test_without_a_cache_a_read_is_unavailable_and_a_miss_not_a_crash() -> None:
    cache = Cache(CacheSettings())

    async def go() -> tuple:
        with pytest.raises(CacheUnavailable, match="no cache is configured"):
            await cache.read_practice("frank")
        return await cache.get_practice("frank"), await cache.put_practice("frank", 1, b"{}")

    assert asyncio.run(go()) == (None, False)


def test_a_wrong_password_is_unavailable_not_a_crash(redis_server) -> None:
    cache = Cache(CacheSettings(url=redis_server.url, password="wrong-password"))

    async def go():
        try:
            await cache.round_trip()
        finally:
            await cache.close()

    with pytest.raises(CacheUnavailable) as caught:
        asyncio.run(go())
    assert "wrong-password" not in str(caught.value)


def test_the_prune_job_keeps_recent_records_and_refuses_bad_days(database, clean) -> None:
    _write(database, "gina", 1)
    with database.connect(database.app_database) as conn:
        conn.execute("INSERT INTO processed_events (event_id, processed_at) VALUES (1, now() - interval '9 days')")
        conn.execute("INSERT INTO processed_events (event_id) VALUES (2)")
        conn.execute("UPDATE event_outbox SET published_at = now() - interval '9 days'")
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": _url(database)}
    command = [sys.executable, "-m", "groundwork_api.jobs", "prune-events"]
    done = subprocess.run([*command, "--days", "7"], cwd=APP_DIR, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"ledger_rows":1' in done.stdout
    assert '"outbox_rows":1' in done.stdout
    assert database.query("SELECT event_id FROM processed_events") == [(2,)]
    bad = subprocess.run([*command, "--days", "0"], cwd=APP_DIR, env=env, capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert "allowed: 1 to 3650" in bad.stdout
    assert "Traceback" not in bad.stderr


def test_the_subject_limit_is_shared_through_the_cache_and_says_when_to_retry(redis_server) -> None:
    settings = CacheSettings(url=redis_server.url, password=redis_server.password)

    async def go() -> tuple[list[Decision], Decision]:
        first, second = Cache(settings), Cache(settings)
        one, two = SubjectLimiter(first, limit=3, window=60), SubjectLimiter(second, limit=3, window=60)
        decisions = [
            await one.check("sub-a"),
            await two.check("sub-a"),
            await one.check("sub-a"),
            await two.check("sub-a"),
        ]
        other = await one.check("sub-b")
        await first.close()
        await second.close()
        return decisions, other

    decisions, other = asyncio.run(go())
    assert [d.allowed for d in decisions] == [True, True, True, False], "two processes share one count"
    assert all(d.shared for d in decisions)
    assert 1 <= decisions[-1].retry_after <= 3600
    assert other.allowed


def test_the_subject_limit_still_holds_per_process_when_the_cache_is_down(redis_server) -> None:
    redis_server.stop()
    cache = Cache(CacheSettings(url=redis_server.url, password=redis_server.password, timeout=0.2))

    async def go() -> list[Decision]:
        limiter = SubjectLimiter(cache, limit=2, window=3600)
        found = [await limiter.check("sub-c") for _ in range(3)]
        await cache.close()
        return found

    decisions = asyncio.run(go())
    assert [d.allowed for d in decisions] == [True, True, False]
    assert not any(d.shared for d in decisions)


def test_the_cache_is_reached_over_tls_with_its_ca_and_refused_with_another(scratch) -> None:
    ca, other = trustme.CA(), trustme.CA()
    base = scratch / f"redis-tls-{secrets.token_hex(4)}"
    base.mkdir()
    issued = ca.issue_cert("127.0.0.1")
    cert, key, ca_file, other_file = base / "cert.pem", base / "key.pem", base / "ca.pem", base / "other.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    other.cert_pem.write_to_path(str(other_file))
    server = RedisServer(base / "data", password=secrets.token_urlsafe(16), tls=(cert, key)).start()

    async def go(ca_path: Path) -> bytes | None:
        cache = Cache(CacheSettings(url=server.url, password=server.password, ca_file=str(ca_path)))
        try:
            await cache.round_trip()
            await cache.put_practice("tls", 1, b'{"over":"tls"}')
            return await cache.read_practice("tls")
        finally:
            await cache.close()

    try:
        assert server.url.startswith("rediss://")
        assert asyncio.run(go(ca_file)) == b'{"over":"tls"}'
        with pytest.raises(CacheUnavailable):
            asyncio.run(go(other_file))
    finally:
        server.stop()


def test_a_job_signs_in_as_the_service_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from groundwork_api.jobs import connection_options

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    env = {
        "DATABASE_URL": "postgresql://app@proxy.example:5432/app",
        "DATABASE_SSLMODE": "verify-full",
        "DATABASE_IAM_AUTH": "true",
        "AWS_REGION": "eu-west-1",
    }
    options = asyncio.run(connection_options(env))
    assert options["sslmode"] == "verify-full"
    assert options["password"].startswith("proxy.example:5432/?Action=connect")
    assert "X-Amz-Signature=" in options["password"]
    plain = asyncio.run(connection_options({"DATABASE_URL": "postgresql://app:pw@127.0.0.1:5432/app"}))
    assert "password" not in plain
