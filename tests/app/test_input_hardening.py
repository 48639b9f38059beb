"""Malformed, oversized, wrong-typed and hostile requests get a 4xx JSON error and write nothing."""

from __future__ import annotations

import json
import socket
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.app.tokens import admin_token

MARKER = "hostile-"


def _nest(depth: int) -> dict:
    node: dict = {"leaf": 1}
    for _ in range(depth - 1):
        node = {"n": node}
    return node


def _body(practice, user_id=None) -> bytes:
    return json.dumps({"user_id": user_id or f"{MARKER}{uuid.uuid4()}", "practice": practice}).encode()


CASES = [
    ("not json", b"{user_id: 1", 400, "invalid_json"),
    ("empty body", b"", 400, "bad_request"),
    ("trailing garbage", b'{"user_id": "a", "practice": {}} x', 400, "invalid_json"),
    ("invalid utf-8", b'{"user_id": "\xff\xfe", "practice": {}}', 400, "invalid_json"),
    ("lone surrogate", b'{"user_id": "a", "practice": {"k": "\\ud800"}}', 400, "invalid_json"),
    ("lone surrogate in a key", b'{"user_id": "a", "practice": {"x": {"\\ud800": 1}}}', 400, "invalid_json"),
    (
        "lone surrogate in a repeated key",
        b'{"user_id": "a", "practice": {"\\ud800": 1, "\\ud800": 2}}',
        422,
        "validation_error",
    ),
    ("lone surrogate in an unknown field", b'{"user_id": "a", "practice": {}, "\\udc00": 1}', 422, "validation_error"),
    ("NaN literal", b'{"user_id": "a", "practice": {"k": NaN}}', 400, "invalid_json"),
    ("number of over 1000 digits", b'{"user_id": "a", "practice": {"k": 1e1000}}', 422, "validation_error"),
    ("array body", b"[]", 422, "validation_error"),
    ("string body", b'"hello"', 422, "validation_error"),
    ("null body", b"null", 422, "validation_error"),
    ("missing user_id", b'{"practice": {}}', 422, "validation_error"),
    ("empty user_id", b'{"user_id": "", "practice": {}}', 422, "validation_error"),
    ("long user_id", _body({}, "u" * 129), 422, "validation_error"),
    ("numeric user_id", b'{"user_id": 7, "practice": {}}', 422, "validation_error"),
    ("NUL in user_id", b'{"user_id": "a\\u0000b", "practice": {}}', 422, "validation_error"),
    ("control char in user_id", b'{"user_id": "a\\nb", "practice": {}}', 422, "validation_error"),
    ("missing practice", b'{"user_id": "hostile-missing"}', 422, "validation_error"),
    ("practice is a list", _body([1, 2]), 422, "validation_error"),
    ("practice is a string", _body("x"), 422, "validation_error"),
    ("practice is null", _body(None), 422, "validation_error"),
    ("unknown field", b'{"user_id": "a", "practice": {}, "admin": true}', 422, "validation_error"),
    ("too deep", _body(_nest(17)), 422, "validation_error"),
    ("too many values", _body({"k": list(range(5001))}), 422, "validation_error"),
    ("NUL in a nested string", _body({"a": [{"b": "x\x00y"}]}), 422, "validation_error"),
    ("NUL in a key", _body({"a\x00": 1}), 422, "validation_error"),
    ("key too long", _body({"k" * 257: 1}), 422, "validation_error"),
    ("string too long", _body({"k": "v" * 16385}), 422, "validation_error"),
    ("body over 64 KiB", _body({"k": ["v" * 1000] * 70}), 413, "payload_too_large"),
]


@pytest.fixture
def client(api):
    with httpx.Client(base_url=api.base_url, timeout=10) as http:
        yield http


def _hostile_rows(postgres) -> int:
    # The table exists once any write succeeded; the contract tests make sure of that on this database.
    return postgres.query("SELECT count(*) FROM user_practice WHERE user_id LIKE %s OR user_id = 'a'", (MARKER + "%",))[
        0
    ][0]


@pytest.mark.parametrize(("name", "body", "status", "code"), CASES, ids=[case[0] for case in CASES])
def test_bad_body_is_refused_with_a_json_error_and_nothing_written(client, postgres, name, body, status, code):
    client.post(
        "/map", json={"user_id": "warm-up", "practice": {}}, headers={"Authorization": f"Bearer {admin_token()}"}
    )
    before = _hostile_rows(postgres)
    response = client.post(
        "/map", content=body, headers={"Authorization": f"Bearer {admin_token()}", "Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert "Traceback" not in response.text
    assert _hostile_rows(postgres) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_non_json_content_type_gets_415(client, content_type):
    headers = {"Authorization": f"Bearer {admin_token()}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post("/map", content=b'{"user_id": "a", "practice": {}}', headers=headers)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_declared_oversize_is_refused_before_the_body_is_read(api):
    """A client that announces 10 MiB and sends nothing is answered at once, not after reading the body."""
    token = admin_token()
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(
            b"POST /map HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: 10485760\r\n\r\n".encode()
        )
        reply = b""
        while b"}}" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"payload_too_large" in reply


def test_streamed_oversize_without_length_is_cut_off(client):
    def chunks():
        for _ in range(100):
            yield b"x" * 1024

    response = client.post(
        "/map",
        content=chunks(),
        headers={"Authorization": f"Bearer {admin_token()}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413


# Text as JSON escapes can spell it: any character, or half of a surrogate pair (which json.dumps writes as \udXXX).
json_text = st.lists(st.characters() | st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]), max_size=10).map(
    "".join
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | json_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.dictionaries(json_text, json_values, max_size=4) | json_values)
def test_arbitrary_json_never_gets_a_server_error(client, document):
    response = client.post(
        "/map",
        content=json.dumps(document).encode(),
        headers={"Authorization": f"Bearer {admin_token()}", "Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 201) or "error" in response.json()
