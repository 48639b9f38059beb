"""Idempotency-Key on POST /map: a retry gets the first answer and writes nothing again."""

from __future__ import annotations

import hashlib
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.app.tokens import ADMIN_SUBJECT, admin_token, user_token


@pytest.fixture
def client(api):
    with httpx.Client(base_url=api.base_url, timeout=10) as http:
        yield http


def _post(client, body, key: str | None, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or admin_token()}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/map", json=body, headers=headers)


def _version(postgres, user_id: str):
    rows = postgres.query("SELECT version FROM user_practice WHERE user_id = %s", (user_id,))
    return rows[0][0] if rows else None


def test_retry_with_the_same_key_and_body_replays_the_first_answer(client, postgres):
    user_id, key = f"idem-{uuid.uuid4()}", str(uuid.uuid4())
    body = {"user_id": user_id, "practice": {"n": 18446744073709551616, "s": "x"}}
    first = _post(client, body, key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    for _ in range(3):
        again = _post(client, body, key)
        assert again.status_code == 201
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
    assert _version(postgres, user_id) == 1


def test_without_a_key_every_request_writes(client, postgres):
    user_id = f"idem-{uuid.uuid4()}"
    body = {"user_id": user_id, "practice": {}}
    assert _post(client, body, None).status_code == 201
    assert _post(client, body, None).status_code == 200
    assert _version(postgres, user_id) == 2


@pytest.mark.parametrize(
    "other",
    [
        {"practice": {"n": 2}},
        {"practice": {"n": 1.0}},
        {"practice": {"n": 1, "m": None}},
        {"user_id": "someone-else"},
    ],
    ids=["other value", "other number text", "extra key", "other user"],
)
def test_the_same_key_with_another_request_is_422_and_writes_nothing(client, postgres, other):
    user_id, key = f"idem-{uuid.uuid4()}", str(uuid.uuid4())
    body = {"user_id": user_id, "practice": {"n": 1}}
    assert _post(client, body, key).status_code == 201
    changed = {**body, **other}
    response = _post(client, changed, key)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert response.json()["error"]["field"] == "Idempotency-Key"
    assert _version(postgres, user_id) == 1
    assert _version(postgres, "someone-else") is None


def test_key_order_and_spacing_do_not_make_another_request(client, postgres):
    user_id, key = f"idem-{uuid.uuid4()}", str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {admin_token()}", "Content-Type": "application/json", "Idempotency-Key": key}
    first = client.post("/map", content=f'{{"user_id":"{user_id}","practice":{{"a":1,"b":2}}}}', headers=headers)
    again = client.post(
        "/map", content=f'{{ "practice": {{"b": 2, "a": 1}}, "user_id": "{user_id}" }}', headers=headers
    )
    assert first.status_code == 201
    assert again.content == first.content
    assert _version(postgres, user_id) == 1


def test_concurrent_requests_with_the_same_key_write_once(client, postgres, api):
    user_id, key = f"idem-{uuid.uuid4()}", str(uuid.uuid4())
    body = {"user_id": user_id, "practice": {"burst": True}}
    token = admin_token()

    def send(_):
        with httpx.Client(base_url=api.base_url, timeout=10) as http:
            return _post(http, body, key, token)

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(send, range(32)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
    assert _version(postgres, user_id) == 1


def test_keys_are_scoped_to_the_token_subject(client, postgres):
    user_id, key = f"idem-{uuid.uuid4()}", str(uuid.uuid4())
    alice, admin = user_token(user_id), admin_token(sub="mallory-admin")
    first = _post(client, {"user_id": user_id, "practice": {"secret": "alice's"}}, key, alice)
    assert first.status_code == 201
    # Another caller reusing the key neither reads alice's answer nor is refused: the key is theirs to use.
    theirs = _post(client, {"user_id": user_id, "practice": {"other": 1}}, key, admin)
    assert theirs.status_code == 200, theirs.text
    assert "alice's" not in theirs.text
    assert "idempotent-replayed" not in theirs.headers
    assert _version(postgres, user_id) == 2


def test_another_users_key_replays_nothing_and_writes_nothing(client, postgres):
    """A user's retry with another user's key and body is refused by ownership before the key is looked at."""
    victim, key = f"idem-{uuid.uuid4()}", str(uuid.uuid4())
    body = {"user_id": victim, "practice": {"secret": "victim's"}}
    assert _post(client, body, key, user_token(victim)).status_code == 201
    replay = _post(client, body, key, user_token(f"idem-{uuid.uuid4()}"))
    assert replay.status_code == 403, replay.text
    assert "victim's" not in replay.text
    assert _version(postgres, victim) == 1


@pytest.mark.parametrize(
    "key",
    ["", "k" * 129, "has space", "comma,key", "ключ", "tab\tinside", "semi;colon", '"quoted"'],
    ids=["empty", "too long", "space", "comma", "non-ASCII", "tab", "semicolon", "quotes"],
)
def test_malformed_keys_are_400_and_write_nothing(client, postgres, key):
    user_id = f"idem-{uuid.uuid4()}"
    response = client.post(
        "/map",
        json={"user_id": user_id, "practice": {}},
        headers={"Authorization": f"Bearer {admin_token()}", "Idempotency-Key": key.encode()},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "Idempotency-Key"
    assert _version(postgres, user_id) is None


def test_a_key_of_128_allowed_characters_is_accepted(client):
    key = (uuid.uuid4().hex + "Aa0._:~+/=-" * 12)[:128]
    response = _post(client, {"user_id": f"idem-{uuid.uuid4()}", "practice": {}}, key)
    assert response.status_code == 201, response.text


def test_a_token_without_a_subject_never_reaches_the_keys(client, postgres):
    user_id = f"idem-{uuid.uuid4()}"
    response = _post(client, {"user_id": user_id, "practice": {}}, str(uuid.uuid4()), admin_token(sub=None))
    assert response.status_code == 401, response.text
    assert "sub" in response.json()["error"]["message"]
    assert _version(postgres, user_id) is None


def test_an_expired_key_is_taken_over_by_a_new_request(client, postgres):
    user_id, key = f"idem-{uuid.uuid4()}", str(uuid.uuid4())
    assert _post(client, {"user_id": user_id, "practice": {"n": 1}}, key).status_code == 201
    postgres.query(
        "UPDATE idempotency_keys SET created_at = now() - interval '3 days' WHERE key = %s RETURNING 1", (key,)
    )
    other = {"user_id": user_id, "practice": {"n": 2}}
    taken = _post(client, other, key)
    assert taken.status_code == 200, taken.text
    assert "idempotent-replayed" not in taken.headers
    again = _post(client, other, key)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == taken.content
    assert _version(postgres, user_id) == 2


def test_a_request_waiting_on_a_claim_that_rolls_back_claims_the_key_itself(client, postgres):
    user_id, key = f"idem-{uuid.uuid4()}", str(uuid.uuid4())
    subject = hashlib.sha256(ADMIN_SUBJECT.encode()).digest()
    with postgres.connect(postgres.app_database) as holder:
        holder.execute("BEGIN")  # the claim of a first request, not committed yet
        holder.execute(
            "INSERT INTO idempotency_keys (subject, key, fingerprint) VALUES (%s, %s, '\\x00')", (subject, key)
        )
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(_post, client, {"user_id": user_id, "practice": {"n": 1}}, key)
            lock_waits = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            while postgres.query(lock_waits)[0][0] == 0 and not waiting.done():
                time.sleep(0.01)
            holder.execute("ROLLBACK")
            answer = waiting.result()
    assert answer.status_code == 201, answer.text
    assert "idempotent-replayed" not in answer.headers
    assert _version(postgres, user_id) == 1
