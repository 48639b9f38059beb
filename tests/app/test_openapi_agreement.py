"""The OpenAPI request schema and the app's validation give the same verdict on each boundary of POST /map."""

from __future__ import annotations

import json
import sys

import pytest
from jsonschema import Draft202012Validator

from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api import openapi
from groundwork_api.errors import ApiError
from groundwork_api.settings import Settings
from groundwork_api.validation import parse_map_request

SETTINGS = Settings(database_url="postgresql://db/app", jwt_secret="s" * 32, jwt_issuer="i", jwt_audience=("a",))


def _validator() -> Draft202012Validator:
    document = openapi.document(SETTINGS)
    request = document["paths"]["/map"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    # The request schema's $refs point into the document's components; give them the same root.
    return Draft202012Validator({**request, "components": document["components"]})


def _nest(levels: int) -> dict:
    node: dict = {"leaf": 1}
    for _ in range(levels - 1):
        node = {"n": node}
    return node


def _nest_lists(levels: int) -> dict:
    node: list = [1]
    for _ in range(levels - 2):
        node = [node]
    return {"l": node}


CASES = {
    "plain": ("u", {"a": [1, "x", None, True]}),
    "user_id of 128": ("u" * 128, {}),
    "user_id of 129": ("u" * 129, {}),
    "empty user_id": ("", {}),
    "space in user_id": ("a b", {}),
    "newline in user_id": ("a\nb", {}),
    "trailing newline in user_id": ("ab\n", {}),
    "tab in user_id": ("a\tb", {}),
    "soft hyphen in user_id": ("a\u00adb", {}),
    "no-break space in user_id": ("a\u00a0b", {}),
    "zero-width space in user_id": ("a\u200bb", {}),
    "right-to-left override in user_id": ("a\u202eb", {}),
    "byte order mark in user_id": ("\ufeffab", {}),
    "DEL in user_id": ("a\x7f", {}),
    "C1 control in user_id": ("a\x85", {}),
    "line separator in user_id": ("a\u2028", {}),
    "letters and emoji in user_id": ("ü-名前-🎹", {}),
    "NUL in user_id": ("a\x00", {}),
    "NUL inside practice": ("u", {"a": ["x\x00"]}),
    "NUL in a key": ("u", {"a\x00": 1}),
    "NUL deep": ("u", _nest(15) | {"z": {"y": "\x00"}}),
    "newline in practice": ("u", {"a\nb": "c\nd"}),
    "key of 256": ("u", {"k" * 256: 1}),
    "key of 257": ("u", {"k" * 257: 1}),
    "empty key": ("u", {"": 1}),
    "string of 16384": ("u", {"k": "v" * 16384}),
    "string of 16385": ("u", {"k": "v" * 16385}),
    "astral string of 16384": ("u", {"k": "🎹" * 16384}),
    "16 levels of objects": ("u", _nest(16)),
    "17 levels of objects": ("u", _nest(17)),
    "16 levels of lists": ("u", _nest_lists(16)),
    "17 levels of lists": ("u", _nest_lists(17)),
    "practice is a list": ("u", [1]),
}


def _app_accepts(body: dict) -> bool:
    try:
        parse_map_request(json.dumps(body).encode())
    except ApiError as error:
        return error.status not in (400, 422)
    return True


@pytest.mark.parametrize(("user_id", "practice"), CASES.values(), ids=CASES.keys())
def test_document_and_app_agree(user_id, practice):
    body = {"user_id": user_id, "practice": practice}
    schema_accepts = _validator().is_valid(body)
    app_accepts = _app_accepts(body)
    assert schema_accepts == app_accepts, f"schema says {schema_accepts}, app says {app_accepts}"


def test_unknown_fields_are_refused_by_both():
    body = {"user_id": "u", "practice": {}, "admin": True}
    assert not _validator().is_valid(body)
    with pytest.raises(ApiError):
        parse_map_request(json.dumps(body).encode())


def test_numbers_the_schema_cannot_bound_are_described():
    """JSON Schema has no digit count: the limit is in the description, and both sides accept every double."""
    document = openapi.document(SETTINGS)
    practice = document["paths"]["/map"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "1000 digits" in practice["properties"]["practice"]["description"]
    for number in (5e-324, 1.7976931348623157e308, -0.0, 2**64, -(2**63) - 1):
        body = {"user_id": "u", "practice": {"n": number}}
        assert _validator().is_valid(body)
        parse_map_request(json.dumps(body).encode())
