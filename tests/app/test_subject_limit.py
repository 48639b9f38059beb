"""The per-subject limit on POST /map holds across API processes sharing one cache, and refuses without writing."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.app.tokens import admin_token, user_token

LIMIT = 4


@pytest.fixture(scope="module")
def two_apis(postgres, session_redis, start_app):
    """Two API processes (as two tasks would be), sharing the database and the cache."""
    env = {
        "WORKERS": "1",
        "CACHE_URL": session_redis.url,
        "CACHE_PASSWORD": session_redis.password,
        "SUBJECT_RATE_LIMIT": str(LIMIT),
        "SUBJECT_RATE_WINDOW_SECONDS": "3600",
    }
    return start_app(postgres.url(), **env), start_app(postgres.url(), **env)


def _post(app, token: str, user_id: str, n: int) -> httpx.Response:
    return httpx.post(
        f"{app.base_url}/map",
        json={"user_id": user_id, "practice": {"n": n}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_the_limit_is_shared_by_two_processes_and_says_when_to_retry(two_apis, postgres):
    user_id = f"limited-{uuid.uuid4()}"
    token = user_token(user_id)
    answers = [_post(two_apis[n % 2], token, user_id, n) for n in range(LIMIT + 2)]
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 429, 429], [a.text for a in answers]
    for refused in answers[LIMIT:]:
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
    stored = postgres.query("SELECT version FROM user_practice WHERE user_id = %s", (user_id,))
    assert stored == [(LIMIT,)], "a refused write writes nothing"
    events = postgres.query("SELECT count(*) FROM event_outbox WHERE user_id = %s", (user_id,))
    assert events == [(LIMIT,)]


def test_other_subjects_and_reads_are_not_limited(two_apis):
    user_id = f"limited-{uuid.uuid4()}"
    token = user_token(user_id)
    for n in range(LIMIT + 1):
        _post(two_apis[0], token, user_id, n)
    other = _post(two_apis[1], admin_token(sub=f"admin-{uuid.uuid4()}"), user_id, 99)
    assert other.status_code == 200, other.text
    read = httpx.get(f"{two_apis[1].base_url}/map/{user_id}", headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200
    assert read.json()["practice"] == {"n": 99}


def test_an_admin_writing_for_many_users_has_one_count(two_apis):
    """The limit counts the token's subject, not the user_id written: spreading writes over users escapes nothing."""
    token = admin_token(sub=f"admin-{uuid.uuid4()}")
    statuses = [_post(two_apis[n % 2], token, f"spread-{uuid.uuid4()}", n).status_code for n in range(LIMIT + 1)]
    assert statuses == [201, 201, 201, 201, 429]


def test_refused_writes_to_another_user_count_against_the_subject(two_apis, postgres):
    """Probing other users' records costs the prober's own allowance, and writes nothing."""
    own = f"limited-{uuid.uuid4()}"
    token = user_token(own)
    refused = [_post(two_apis[n % 2], token, f"victim-{uuid.uuid4()}", n).status_code for n in range(LIMIT)]
    assert refused == [403] * LIMIT
    assert _post(two_apis[0], token, own, 0).status_code == 429
    assert postgres.query("SELECT count(*) FROM user_practice WHERE user_id = %s", (own,)) == [(0,)]
