"""Read-your-write with the cache refreshed after the answer, against a real Redis with readers and writers racing."""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from urllib.parse import quote

import httpx
import pytest

from tests.app.tokens import admin_token
from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api.cache import Cache, CacheSettings


def _cache(session_redis, **settings) -> Cache:
    return Cache(CacheSettings(url=session_redis.url, password=session_redis.password, **settings))


def _run(session_redis, steps, **settings):
    async def go():
        cache = _cache(session_redis, **settings)
        try:
            return await steps(cache, f"ryw-{uuid.uuid4()}")
        finally:
            await cache.close()

    return asyncio.run(go())


def test_a_reader_cannot_install_an_older_version_while_a_write_is_in_progress(session_redis):
    async def steps(cache: Cache, user: str):
        await cache.put_practice(user, 1, b'{"v":1}')
        marked = await cache.begin_write(user)
        during = await cache.get_practice(user), await cache.put_practice(user, 1, b'{"v":1}')
        settled = await cache.settle_write(user, 2, b'{"v":2}')
        late_reader = await cache.put_practice(user, 1, b'{"v":1}')
        return marked, during, settled, late_reader, await cache.get_practice(user)

    marked, during, settled, late_reader, found = _run(session_redis, steps)
    assert marked == (0, 0, True)
    assert during == (None, False), "the older entry is gone, and a reader's copy of it is refused"
    assert (settled, late_reader) == (True, False)
    assert found == b'{"v":2}'


@pytest.mark.parametrize("order", ["older settles first", "newer settles first"])
def test_overlapping_writes_cache_the_newest_once_both_have_settled(session_redis, order):
    async def steps(cache: Cache, user: str):
        await cache.begin_write(user)
        await cache.begin_write(user)
        first, second = ((5, b'{"v":5}'), (6, b'{"v":6}'))
        if order == "newer settles first":
            first, second = second, first
        await cache.settle_write(user, *first)
        between = await cache.get_practice(user), await cache.put_practice(user, 4, b'{"v":4}')
        await cache.settle_write(user, *second)
        return between, await cache.get_practice(user), await cache.put_practice(user, 5, b'{"v":5}')

    between, found, older = _run(session_redis, steps)
    assert between == (None, False), "nothing is cached while the other write is in progress"
    assert found == b'{"v":6}'
    assert older is False


def test_a_write_that_stored_nothing_releases_its_mark(session_redis):
    async def steps(cache: Cache, user: str):
        await cache.begin_write(user)
        await cache.settle_write(user, 0, b"")
        return await cache.put_practice(user, 3, b'{"v":3}'), await cache.get_practice(user)

    assert _run(session_redis, steps) == (True, b'{"v":3}')


def test_a_record_too_large_to_keep_leaves_no_older_entry(session_redis):
    async def steps(cache: Cache, user: str):
        await cache.put_practice(user, 1, b'{"v":1}')
        await cache.begin_write(user)
        await cache.settle_write(user, 2, b'{"v":"' + b"x" * 2000 + b'"}')
        return await cache.get_practice(user)

    assert _run(session_redis, steps, max_entry_bytes=1024) is None


def test_a_request_over_the_limit_marks_nothing(session_redis):
    async def steps(cache: Cache, user: str):
        await cache.put_practice(user, 1, b'{"v":1}')
        counter = (f"limit:test:{user}", 60_000, 1)
        allowed = await cache.begin_write(user, counter)
        await cache.settle_write(user, 2, b'{"v":2}')
        refused = await cache.begin_write(user, counter)
        return allowed, refused, await cache.get_practice(user)

    allowed, refused, found = _run(session_redis, steps)
    assert allowed[::2] == (1, True)
    assert refused[::2] == (2, False)
    assert 0 < refused[1] <= 60_000
    assert found == b'{"v":2}', "the refused request left the entry alone"


@pytest.fixture(scope="module")
def cached_api(postgres, session_redis, start_app):
    return start_app(
        postgres.url(),
        WORKERS="2",
        CACHE_URL=session_redis.url,
        CACHE_PASSWORD=session_redis.password,
        SUBJECT_RATE_LIMIT="100000",
    )


@pytest.mark.parametrize("keyed", [False, True], ids=["without a key", "with a key"])
def test_a_client_never_reads_older_than_its_acknowledged_write_while_a_reader_races(cached_api, keyed):
    user_id = f"ryw-{uuid.uuid4()}"
    headers = {"Authorization": f"Bearer {admin_token()}"}
    path = f"/map/{quote(user_id, safe='')}"
    stop = threading.Event()
    reader_versions: list[int] = []

    def reader() -> None:
        # Reads as fast as it can through the other connections, filling the cache from the database on each miss.
        with httpx.Client(base_url=cached_api.base_url, headers=headers, timeout=10) as http:
            while not stop.is_set():
                answer = http.get(path)
                if answer.status_code == 200:
                    reader_versions.append(answer.json()["version"])

    # Each read on a new connection, which may land on either worker.
    fresh = httpx.Client(
        base_url=cached_api.base_url, headers=headers, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
    )
    with fresh, httpx.Client(base_url=cached_api.base_url, headers=headers, timeout=10) as http:
        assert http.post("/map", json={"user_id": user_id, "practice": {"n": 0}}).status_code == 201
        racing = threading.Thread(target=reader)
        racing.start()
        try:
            for n in range(1, 61):
                extra = {"Idempotency-Key": str(uuid.uuid4())} if keyed else {}
                written = http.post("/map", json={"user_id": user_id, "practice": {"n": n}}, headers=extra)
                assert written.status_code == 200, written.text
                version = written.json()["version"]
                read = fresh.get(path)
                assert read.status_code == 200
                assert read.json()["version"] >= version, (n, read.headers.get("x-cache"), read.text)
        finally:
            stop.set()
            racing.join()
    assert reader_versions, "the reader raced the writer"
