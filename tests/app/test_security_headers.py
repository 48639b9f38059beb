"""Security headers on every answer of the API, success and error alike; no-store on authenticated answers."""

from __future__ import annotations

import asyncio
import sys
import uuid

import httpx
import pytest

from tests.app.tokens import user_token
from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api import app as app_module

EXPECTED = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}


@pytest.fixture(scope="module")
def http(postgres, start_app):
    app = start_app(postgres.url(), WORKERS="1")
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        yield client


def _assert_headers(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get_list(name) == [value], f"{response.request.url} {response.status_code}: {name}"
    max_age = int(response.headers["strict-transport-security"].split(";")[0].split("=")[1])
    assert max_age >= 365 * 24 * 3600


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/livez", 200),
        ("GET", "/docs", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/heartbeat", 200),
        ("GET", "/nowhere", 404),
        ("DELETE", "/map", 405),
        ("GET", "/map/someone", 401),
        ("POST", "/map", 401),
    ],
)
def test_every_answer_carries_the_security_headers(http, method, path, status):
    response = http.request(method, path)
    assert response.status_code == status
    _assert_headers(response)


def test_authenticated_answers_are_never_stored(http):
    user_id = f"headers-{uuid.uuid4()}"
    auth = {"Authorization": f"Bearer {user_token(user_id)}"}
    written = http.post("/map", json={"user_id": user_id, "practice": {"a": 1}}, headers=auth)
    assert written.status_code == 201
    for response in (
        written,
        http.get(f"/map/{user_id}", headers=auth),
        http.get(f"/map/{user_id}/summary", headers=auth),
        http.post("/map", content=b"{", headers={**auth, "Content-Type": "application/json"}),
        http.get("/map/someone-else", headers=auth),
    ):
        assert response.headers.get_list("cache-control") == ["no-store"], response.request.url
        _assert_headers(response)


def test_docs_page_needs_nothing_its_policy_forbids(http):
    page = http.get("/docs").text.lower()
    # default-src 'none' blocks inline styles and scripts and every fetched resource: the page uses none of them.
    for forbidden in ("<style", "<script", " style=", "<link", "<img", "<iframe", "src=", "<form"):
        assert forbidden not in page


def test_an_unexpected_error_carries_them_too():
    response = asyncio.run(app_module._unexpected(_request(), RuntimeError("boom")))
    headers = dict((k.decode(), v.decode()) for k, v in response.raw_headers)
    assert response.status_code == 500
    for name, value in EXPECTED.items():
        assert headers[name] == value
    assert headers["cache-control"] == "no-store"


def _request():
    from starlette.requests import Request

    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""})
