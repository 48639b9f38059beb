"""Bounds on writes: the stored document's size (numbers in full), live idempotency keys per subject, their pruning,
and an error that says so when a write's outcome is unknown."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from decimal import Decimal

import httpx
import pytest

from tests.app.cached_reads import read_until_cached
from tests.app.tokens import admin_token, user_token
from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api.validation import parse_map_request, stored_size

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def http(postgres, start_app):
    app = start_app(postgres.url(), WORKERS="1", MAX_DOCUMENT_BYTES=str(LIMIT), IDEMPOTENCY_KEYS_PER_SUBJECT="3")
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        yield client


def _auth(token: str | None = None, key: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token or admin_token()}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def test_numbers_that_expand_past_the_bound_are_refused_before_anything_is_written(http, postgres):
    user_id = f"amplify-{uuid.uuid4()}"
    numbers = ",".join(["1e999"] * 4998)
    body = f'{{"user_id": "{user_id}", "practice": {{"n": [{numbers}]}}}}'
    assert len(body) < 31 * 1024
    refused = http.post("/map", content=body, headers={**_auth(), "Content-Type": "application/json"})
    assert refused.status_code == 413, refused.text
    error = refused.json()["error"]
    assert error["code"] == "document_too_large"
    assert error["field"] == "practice"
    assert str(LIMIT) in error["message"]
    assert postgres.query("SELECT 1 FROM user_practice WHERE user_id = %s", (user_id,)) == []


def test_a_document_under_the_bound_is_stored_and_its_size_is_what_postgresql_stores(http, postgres):
    user_id = f"sized-{uuid.uuid4()}"
    practice = {"a": [1.50, -0.001, 12345678901234567890, 3], "b": {"c": "text", "d": None, "e": True}, "f": []}
    body = {"user_id": user_id, "practice": practice}
    assert http.post("/map", json=body, headers=_auth()).status_code == 201
    (stored,) = postgres.query("SELECT octet_length(practice::text) FROM user_practice WHERE user_id = %s", (user_id,))
    parsed = parse_map_request(httpx.Request("POST", "/", json=body).content)
    assert stored_size(parsed.practice) == stored[0]


def test_stored_size_counts_numbers_written_out_in_full():
    assert stored_size({"n": Decimal("1e999")}) == len('{"n": ') + 1000 + 1
    assert stored_size({"n": Decimal("-1.5e-3")}) == len('{"n": -0.0015}')


def test_live_keys_per_subject_are_capped_with_a_clear_429(http, postgres):
    subject = f"capped-{uuid.uuid4()}"
    token = user_token(subject)
    keys = [str(uuid.uuid4()) for _ in range(4)]
    for n, key in enumerate(keys[:3]):
        body = {"user_id": subject, "practice": {"n": n}}
        assert http.post("/map", json=body, headers=_auth(token, key)).status_code in (200, 201)
    refused = http.post("/map", json={"user_id": subject, "practice": {"n": 9}}, headers=_auth(token, keys[3]))
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "idempotency_keys_exhausted"
    assert int(refused.headers["retry-after"]) >= 1
    (version,) = postgres.query("SELECT version FROM user_practice WHERE user_id = %s", (subject,))
    assert version == (3,)
    # A retry of a key it holds still replays; another subject is not affected; a write without a key goes through.
    replay = http.post("/map", json={"user_id": subject, "practice": {"n": 0}}, headers=_auth(token, keys[0]))
    assert replay.headers.get("idempotent-replayed") == "true"
    other = f"uncapped-{uuid.uuid4()}"
    fresh = {"user_id": other, "practice": {}}
    assert http.post("/map", json=fresh, headers=_auth(user_token(other), keys[3])).status_code == 201
    assert http.post("/map", json={"user_id": subject, "practice": {}}, headers=_auth(token)).status_code == 200


def test_the_prune_job_removes_expired_keys(http, postgres):
    user_id = f"prune-{uuid.uuid4()}"
    assert http.post("/map", json={"user_id": user_id, "practice": {}}, headers=_auth()).status_code == 201
    subject = uuid.uuid4().bytes
    postgres.query(
        "INSERT INTO idempotency_keys (subject, key, fingerprint, created_at) VALUES "
        "(%s, 'old', '\\x00', now() - interval '2 days'), (%s, 'new', '\\x00', now()) RETURNING 1",
        (subject, subject),
    )
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": postgres.url(), "IDEMPOTENCY_TTL": "86400"}
    command = [sys.executable, "-m", "groundwork_api.jobs", "prune-events", "--days", "7"]
    done = subprocess.run(command, cwd=APP_DIR, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"idempotency_keys":' in done.stdout
    left = postgres.query("SELECT key FROM idempotency_keys WHERE subject = %s", (subject,))
    assert left == [("new",)]


@pytest.fixture(scope="module")
def impatient(postgres, start_app):
    app = start_app(postgres.url(), WORKERS="1", DATABASE_TIMEOUT="0.5")
    app.wait_for_database()
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        yield client


def test_a_write_sent_and_not_confirmed_in_time_says_its_outcome_is_unknown(impatient, postgres):
    user_id = f"unknown-{uuid.uuid4()}"
    assert impatient.post("/map", json={"user_id": user_id, "practice": {}}, headers=_auth()).status_code == 201
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        with postgres.connect(postgres.app_database) as conn, conn.transaction():
            conn.execute("SELECT 1 FROM user_practice WHERE user_id = %s FOR UPDATE", (user_id,))
            locked.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        # Without a key the statement is its own commit: once sent, the deadline leaves its outcome unknown.
        unknown = impatient.post("/map", json={"user_id": user_id, "practice": {"n": 1}}, headers=_auth())
        assert unknown.status_code == 503, unknown.text
        error = unknown.json()["error"]
        assert error["code"] == "write_outcome_unknown"
        assert "may or may not be stored" in error["message"]
        assert "same Idempotency-Key is safe" in error["message"]
        # With a key the write is one statement too: its outcome is unknown, and a retry with the key is safe.
        key = str(uuid.uuid4())
        keyed = impatient.post("/map", json={"user_id": user_id, "practice": {"n": 2}}, headers=_auth(key=key))
        assert keyed.status_code == 503, keyed.text
        assert keyed.json()["error"]["code"] == "write_outcome_unknown"
    finally:
        release.set()
        holder.join()
    # Cancelled or applied once the row was released: either way a retry with the key stores the write at most once.
    retry = impatient.post("/map", json={"user_id": user_id, "practice": {"n": 2}}, headers=_auth(key=key))
    assert retry.status_code == 200, retry.text
    again = impatient.post("/map", json={"user_id": user_id, "practice": {"n": 2}}, headers=_auth(key=key))
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == retry.content
    keyed_writes = postgres.query(
        "SELECT count(*) FROM user_practice WHERE user_id = %s AND practice = '{\"n\": 2}'", (user_id,)
    )
    assert keyed_writes == [(1,)]


def test_the_openapi_document_names_the_new_codes(http):
    post = http.get("/openapi.json").json()["paths"]["/map"]["post"]["responses"]
    assert "write_outcome_unknown" in post["503"]["description"]
    assert "idempotency_keys_exhausted" in post["429"]["description"]
    assert "document_too_large" in post["413"]["description"]


@pytest.fixture(scope="module")
def cached(postgres, session_redis, start_app):
    app = start_app(
        postgres.url(),
        WORKERS="1",
        CACHE_URL=session_redis.url,
        CACHE_PASSWORD=session_redis.password,
        CACHE_MAX_ENTRY_BYTES="1024",
    )
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        yield client


def test_the_cache_refuses_entries_above_its_size_and_keeps_no_stale_one(cached):
    user_id = f"entry-{uuid.uuid4()}"
    token = user_token(user_id)
    assert (
        cached.post("/map", json={"user_id": user_id, "practice": {"s": "x"}}, headers=_auth(token)).status_code == 201
    )
    first = cached.get(f"/map/{user_id}", headers=_auth(token))
    assert first.headers["x-cache"] in ("hit", "miss")
    read_until_cached(lambda: cached.get(f"/map/{user_id}", headers=_auth(token)))
    big = {"user_id": user_id, "practice": {"s": "y" * 2000}}
    assert cached.post("/map", json=big, headers=_auth(token)).status_code == 200
    for _ in range(2):
        read = cached.get(f"/map/{user_id}", headers=_auth(token))
        assert read.headers["x-cache"] == "miss"
        assert read.json()["practice"]["s"] == "y" * 2000
