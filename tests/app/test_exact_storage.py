"""An acknowledged write is stored exactly as sent, or refused with a 4xx and nothing written."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.app.tokens import admin_token

MARKER = "exact-"


class Pairs(tuple):
    """A JSON object as its key/value pairs in order, duplicates kept."""


def exact(text: str | bytes):
    """A JSON document with every number as its exact decimal value and every object's pairs as sent."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal, object_pairs_hook=Pairs)


def same(a, b) -> bool:
    """Equal as JSON values: numbers by exact decimal value, true is not 1, objects as unordered unique keys."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Pairs):
        keys_a, keys_b = dict(a), dict(b)
        unique = len(keys_a) == len(a) and len(keys_b) == len(b)
        return unique and keys_a.keys() == keys_b.keys() and all(same(keys_a[k], keys_b[k]) for k in keys_a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _field(document: bytes, name: str):
    return dict(exact(document))[name]


def _post(client, body: bytes) -> httpx.Response:
    return client.post(
        "/map",
        content=body,
        headers={"Authorization": f"Bearer {admin_token()}", "Content-Type": "application/json"},
    )


def _stored(postgres, user_id: str) -> list[str]:
    return [row[0] for row in postgres.query("SELECT practice::text FROM user_practice WHERE user_id = %s", (user_id,))]


@pytest.fixture
def client(api):
    with httpx.Client(base_url=api.base_url, timeout=10) as http:
        yield http


ACCEPTED = {
    "integer above 2^64-1": "18446744073709551616",
    "integer below -2^63": "-9223372036854775809",
    "integer of 300 digits": "9" * 300,
    "float that does not round-trip": "0.30000000000000000001",
    "more digits than a double holds": "123456789012345678901234567890.123456789012345678901",
    "exponent": "1E2",
    "negative exponent": "2.5e-7",
    "exponent with a plus": "1.5E+3",
    "trailing zeros": "1.500",
    "beyond the largest double": "1e400",
    "below the smallest double": "1e-400",
    "smallest double": "5e-324",
    "largest double": "1.7976931348623157e308",
    "negative zero": "-0",
    "negative zero float": "-0.0",
    "1000 digits": "1" + "0" * 999,
    "1000 fraction digits": "0." + "0" * 998 + "1",
    "escaped surrogate pair": '"\\ud83c\\udfb9"',
    "noncharacter": '"\\uffff"',
    "line separator": '"a\\u2028b"',
    "escaped control characters": '"\\u0001\\u001f\\t\\n\\u007f"',
    "escaped solidus and quotes": '"\\/\\"\\\\"',
    "astral characters": '"𝄞🎹"',
    "byte order mark inside": '"\\ufeffx"',
    "escaped backslashes before u": '"\\\\ud800\\\\u0000"',
    "negative, 1000 digits in a longer literal": "-0." + "0" * 998 + "1",
}

REFUSED = {
    "lone high surrogate": ('"\\ud800"', 400),
    "lone low surrogate": ('"\\udc00x"', 400),
    "reversed surrogate pair": ('"\\udc00\\ud800"', 400),
    "escaped NUL": ('"a\\u0000"', 422),
    "over 1000 digits": ("1" + "0" * 1000, 422),
    "exponent over 1000 digits": ("1e1000", 422),
    "tiny beyond 1000 digits": ("1e-1000", 422),
    "huge exponent": ("1e999999999", 422),
    "tiny exponent": ("1e-999999999", 422),
    "NaN": ("NaN", 400),
    "Infinity": ("Infinity", 400),
    "leading zero": ("01", 400),
    "bare point": ("1.", 400),
    "plus sign": ("+1", 400),
    "hex": ("0x10", 400),
}


@pytest.mark.parametrize("literal", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_value_is_stored_and_returned_exactly(client, postgres, literal):
    user_id = f"{MARKER}{uuid.uuid4()}"
    practice = f'{{"v": {literal}, "in": [{literal}, {{"deep": {literal}}}]}}'
    response = _post(client, f'{{"user_id": "{user_id}", "practice": {practice}}}'.encode())
    assert response.status_code == 201, response.text
    assert same(_field(response.content, "practice"), exact(practice))
    (stored,) = _stored(postgres, user_id)
    assert same(exact(stored), exact(practice)), stored[:200]


@pytest.mark.parametrize(("literal", "status"), REFUSED.values(), ids=REFUSED.keys())
def test_value_that_cannot_be_stored_exactly_is_refused(client, postgres, literal, status):
    user_id = f"{MARKER}{uuid.uuid4()}"
    response = _post(client, f'{{"user_id": "{user_id}", "practice": {{"v": {literal}}}}}'.encode())
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    assert _stored(postgres, user_id) == []


@pytest.mark.parametrize(
    "practice",
    ['{"a": 1, "a": 2}', '{"x": {"k": true, "k": true}}', '{"l": [{"d": 1, "d": 1}]}'],
    ids=["top level", "nested", "inside a list"],
)
def test_duplicate_keys_are_refused_because_one_value_would_be_dropped(client, postgres, practice):
    user_id = f"{MARKER}{uuid.uuid4()}"
    response = _post(client, f'{{"user_id": "{user_id}", "practice": {practice}}}'.encode())
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert _stored(postgres, user_id) == []


def test_duplicate_top_level_field_is_refused(client, postgres):
    user_id = f"{MARKER}{uuid.uuid4()}"
    body = f'{{"user_id": "decoy-{uuid.uuid4()}", "user_id": "{user_id}", "practice": {{}}}}'
    response = _post(client, body.encode())
    assert response.status_code == 422, response.text
    assert _stored(postgres, user_id) == []


def test_nesting_far_beyond_the_limit_is_a_4xx(client):
    response = _post(client, b'{"user_id": "exact-deep", "practice": {"a": ' + b"[" * 30000 + b"]" * 30000 + b"}}")
    assert response.status_code == 422, response.text


numbers = st.decimals(allow_nan=False, allow_infinity=False).map(str) | st.integers().map(str)
scalars = numbers | st.text(max_size=12).map(json.dumps) | st.sampled_from(["true", "false", "null"])
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]")
        | st.dictionaries(st.text(max_size=6), inner, max_size=3).map(
            lambda pairs: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs.items()) + "}"
        )
    ),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=documents)
def test_any_json_value_is_stored_exactly_or_refused(client, postgres, value):
    user_id = f"{MARKER}{uuid.uuid4()}"
    practice = f'{{"v": {value}}}'
    response = _post(client, f'{{"user_id": "{user_id}", "practice": {practice}}}'.encode())
    stored = _stored(postgres, user_id)
    if response.status_code in (200, 201):
        assert same(_field(response.content, "practice"), exact(practice))
        assert len(stored) == 1
        assert same(exact(stored[0]), exact(practice))
    else:
        assert 400 <= response.status_code < 500, response.text
        assert stored == []


@pytest.fixture(scope="module")
def latin1_api(postgres, start_app):
    """The API on a database whose encoding cannot hold every character (created LATIN1, as older clusters are)."""
    with postgres.connect() as conn:
        conn.execute("DROP DATABASE IF EXISTS latin")
        conn.execute(
            "CREATE DATABASE latin ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
            f" OWNER {postgres.app_user}"
        )
    return start_app(postgres.url(database="latin"), WORKERS="1")


@pytest.mark.parametrize(
    ("user_id", "text", "status"),
    [("latin-é", "café", 201), ("latin-日本", "x", 422), ("latin-x", "日本 🎹", 422)],
    ids=["representable", "user_id the database cannot hold", "text the database cannot hold"],
)
def test_a_database_that_cannot_hold_a_character_refuses_with_a_4xx(latin1_api, postgres, user_id, text, status):
    with httpx.Client(base_url=latin1_api.base_url, timeout=10) as http:
        response = _post(http, json.dumps({"user_id": user_id, "practice": {"t": text}}).encode())
    assert response.status_code == status, response.text
    rows = postgres.query(
        "SELECT user_id, practice::text FROM user_practice WHERE user_id LIKE 'latin-%%'", database="latin"
    )
    stored = {row[0]: row[1] for row in rows}
    if status == 201:
        assert same(exact(stored[user_id]), exact(json.dumps({"t": text})))
    else:
        assert user_id not in stored


EDGE_LITERALS = {
    "zero with a huge exponent": "0e999999999",
    "zero with a tiny exponent": "-0e-1000",
    "a long literal whose exponent PostgreSQL refuses": "0." + "0" * 1004 + "1e1005",
    "exponent at PostgreSQL's limit": "1e-999",
    "digits cancelled by the exponent": "123456e-6",
    "1000 digits with an exponent of zero": "1" + "0" * 999 + "e0",
}


@pytest.mark.parametrize("literal", EDGE_LITERALS.values(), ids=EDGE_LITERALS.keys())
def test_edge_literals_are_stored_exactly_or_refused_with_a_4xx(client, postgres, literal):
    user_id = f"{MARKER}{uuid.uuid4()}"
    practice = f'{{"v": {literal}}}'
    response = _post(client, f'{{"user_id": "{user_id}", "practice": {practice}}}'.encode())
    stored = _stored(postgres, user_id)
    if response.status_code in (200, 201):
        assert same(_field(response.content, "practice"), exact(practice))
        assert same(exact(stored[0]), exact(practice))
    else:
        assert 400 <= response.status_code < 500, response.text
        assert stored == []
