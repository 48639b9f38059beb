"""Object-level authorization: a user's token reads and writes only its own record, on every route and through the
cache; a token with the admin scope acts on any record and every such access is logged with its client id."""

from __future__ import annotations

import secrets
import time
import uuid
from urllib.parse import quote

import httpx
import pytest
import redis

from tests.app.cached_reads import read_until_cached
from tests.app.tokens import admin_token, user_token
from tests.conftest import mint_token
from tests.redis_server import RedisServer


@pytest.fixture(scope="module")
def cache(scratch):
    server = RedisServer(scratch / f"owners-{secrets.token_hex(4)}", password=secrets.token_urlsafe(16)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app(postgres, cache, start_app, start_worker):
    api = start_app(postgres.url(), WORKERS="2", CACHE_URL=cache.url, CACHE_PASSWORD=cache.password)
    start_worker(postgres.url(), cache)
    return api


@pytest.fixture
def http(app):
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        yield client


def _auth(token: str, **headers: str) -> dict:
    return {"Authorization": f"Bearer {token}", **headers}


def _write(http, token: str, user_id: str, practice: dict, **headers: str) -> httpx.Response:
    return http.post("/map", json={"user_id": user_id, "practice": practice}, headers=_auth(token, **headers))


def _get(http, token: str, user_id: str, suffix: str = "") -> httpx.Response:
    return http.get(f"/map/{quote(user_id, safe='')}{suffix}", headers=_auth(token))


def _stored(postgres, user_id: str):
    rows = postgres.query("SELECT version, practice FROM user_practice WHERE user_id = %s", (user_id,))
    return rows[0] if rows else None


def _summarised(http, token: str, user_id: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while _get(http, token, user_id, "/summary").status_code != 200:
        assert time.monotonic() < deadline, "the worker did not summarise the write"
        time.sleep(0.05)


@pytest.fixture
def bob(http, postgres):
    """A user with a stored, cached and summarised record."""
    user_id = f"bob-{uuid.uuid4()}"
    token = user_token(user_id)
    assert _write(http, token, user_id, {"owner": "bob"}).status_code == 201
    read_until_cached(lambda: _get(http, token, user_id))
    _summarised(http, token, user_id)
    return user_id, token


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"
    assert "bob" not in response.text, "nothing of the other user's record is shown"


def test_a_user_cannot_overwrite_another_users_record(http, postgres, cache, bob):
    bob_id, _ = bob
    alice = user_token(f"alice-{uuid.uuid4()}")
    _refused(_write(http, alice, bob_id, {"owner": "alice"}))
    assert _stored(postgres, bob_id) == (1, {"owner": "bob"})
    assert postgres.query("SELECT count(*) FROM event_outbox WHERE user_id = %s", (bob_id,)) == [(1,)]
    entry = redis.Redis.from_url(cache.url, password=cache.password).get(f"practice:{bob_id}")
    assert entry is not None
    assert b'"owner":"bob"' in entry.replace(b" ", b""), "the cached record is still bob's"


@pytest.mark.parametrize("suffix", ["", "/summary"], ids=["record", "summary"])
def test_a_user_cannot_read_another_users_record_even_when_cached(http, bob, suffix):
    bob_id, bob_token = bob
    assert _get(http, bob_token, bob_id).headers["x-cache"] == "hit", "the record is in the cache"
    response = _get(http, user_token(f"alice-{uuid.uuid4()}"), bob_id, suffix)
    _refused(response)
    assert "x-cache" not in response.headers, "the cache is not consulted for a refused read"


def test_refusal_does_not_tell_whether_the_other_user_exists(http, bob):
    alice = user_token(f"alice-{uuid.uuid4()}")
    existing = _get(http, alice, bob[0])
    missing = _get(http, alice, f"nobody-{uuid.uuid4()}")
    assert (existing.status_code, existing.json()) == (missing.status_code, missing.json())


def test_a_refused_write_leaves_no_idempotency_key_and_no_cache_entry(http, postgres, cache):
    victim, key = f"victim-{uuid.uuid4()}", str(uuid.uuid4())
    mallory = user_token(f"mallory-{uuid.uuid4()}")
    _refused(_write(http, mallory, victim, {"owner": "mallory"}, **{"Idempotency-Key": key}))
    assert _stored(postgres, victim) is None
    assert postgres.query("SELECT count(*) FROM idempotency_keys WHERE key = %s", (key,)) == [(0,)]
    assert redis.Redis.from_url(cache.url, password=cache.password).exists(f"practice:{victim}") == 0


def test_a_user_reads_and_writes_their_own_record(http, postgres):
    user_id = f"carol-{uuid.uuid4()}"
    token = user_token(user_id)
    assert _write(http, token, user_id, {"n": 1}).status_code == 201
    assert _write(http, token, user_id, {"n": 2}).json()["version"] == 2
    assert _get(http, token, user_id).json()["practice"] == {"n": 2}
    _summarised(http, token, user_id)


def test_an_admin_acts_on_any_record_and_each_access_is_logged(http, app, postgres, bob):
    bob_id, bob_token = bob
    client_id = f"machine-{uuid.uuid4()}"
    admin = admin_token(sub=client_id)
    request_ids = [f"admin-{n}-{uuid.uuid4()}" for n in range(3)]
    write = _write(http, admin, bob_id, {"owner": "admin"}, **{"X-Request-ID": request_ids[0]})
    assert write.status_code == 200, write.text
    read = http.get(f"/map/{bob_id}", headers=_auth(admin, **{"X-Request-ID": request_ids[1]}))
    assert read.json()["practice"] == {"owner": "admin"}
    summary = http.get(f"/map/{bob_id}/summary", headers=_auth(admin, **{"X-Request-ID": request_ids[2]}))
    assert summary.status_code == 200
    assert _get(http, bob_token, bob_id).json()["practice"] == {"owner": "admin"}, "bob sees the admin's write"
    for request_id, action in zip(request_ids, ("write", "read", "read summary"), strict=True):
        app.log_entry(request_id)  # the access line is flushed with the audit line before it
        audits = [line for line in app.log.read_text().splitlines() if request_id in line and "admin access" in line]
        assert len(audits) == 1, f"no audit line for {action}"
        assert f'"client_id":"{client_id}"' in audits[0]
        assert f'"user_id":"{bob_id}"' in audits[0]
        assert f'"action":"{action}"' in audits[0]


def test_a_users_own_access_is_not_logged_as_admin_access(http, app):
    user_id = f"dave-{uuid.uuid4()}"
    request_id = f"own-{uuid.uuid4()}"
    _write(http, user_token(user_id), user_id, {}, **{"X-Request-ID": request_id})
    app.log_entry(request_id)
    assert not [line for line in app.log.read_text().splitlines() if request_id in line and "admin access" in line]


@pytest.mark.parametrize(
    "claims",
    [{"sub": None}, {"sub": ""}, {"sub": "   "}],
    ids=["no sub", "empty sub", "blank sub"],
)
def test_tokens_without_a_subject_neither_read_nor_write(http, postgres, bob, claims):
    token = mint_token(**claims)
    bob_id, _ = bob
    assert _write(http, token, f"anon-{uuid.uuid4()}", {}).status_code == 401
    assert _get(http, token, bob_id).status_code == 401
    assert _get(http, token, bob_id, "/summary").status_code == 401
