"""The POST /map request schema: sizes, nesting and character limits checked before anything is written."""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson

from .errors import ApiError

USER_ID_MAX = 128
MAX_DEPTH = 16
MAX_NODES = 5000
MAX_KEY_CHARS = 256
MAX_STRING_CHARS = 16384
ALLOWED_FIELDS = frozenset({"user_id", "practice"})


@dataclass(frozen=True, slots=True)
class MapRequest:
    """A validated body of POST /map."""

    user_id: str
    practice: dict


def _invalid(message: str, field: str) -> ApiError:
    return ApiError(422, "validation_error", message, field)


def _check_text(value: str, where: str, limit: int) -> None:
    if len(value) > limit:
        raise _invalid(f"text longer than {limit} characters", where)
    # PostgreSQL text and jsonb cannot store NUL; other control characters are refused in keys and ids only.
    if "\x00" in value:
        raise _invalid("text must not contain NUL characters", where)


def _check_practice(root: dict) -> None:
    """Walk the document iteratively (no recursion limit to hit) and enforce depth, size and content rules."""
    nodes = 0
    stack: list[tuple[object, int, str]] = [(root, 1, "practice")]
    while stack:
        value, depth, where = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _invalid(f"more than {MAX_NODES} values", "practice")
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise _invalid(f"nested deeper than {MAX_DEPTH} levels", where)
            for key, item in value.items():
                _check_text(key, f"{where}.{key[:32]}", MAX_KEY_CHARS)
                stack.append((item, depth + 1, f"{where}.{key[:32]}"))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                raise _invalid(f"nested deeper than {MAX_DEPTH} levels", where)
            stack.extend((item, depth + 1, f"{where}[{i}]") for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, where, MAX_STRING_CHARS)
        elif isinstance(value, float) and not math.isfinite(value):
            raise _invalid("numbers must be finite", where)


def parse_map_request(body: bytes) -> MapRequest:
    """Parse and validate a POST /map body; raise ApiError (400 or 422) naming what is wrong."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc.msg}") from None
    if not isinstance(document, dict):
        raise _invalid("body must be a JSON object", "body")
    unknown = sorted(set(document) - ALLOWED_FIELDS)
    if unknown:
        raise _invalid(f"unknown field; allowed: {', '.join(sorted(ALLOWED_FIELDS))}", unknown[0][:64])
    user_id = document.get("user_id")
    if not isinstance(user_id, str):
        raise _invalid("required, a string of 1 to 128 characters", "user_id")
    if not 1 <= len(user_id) <= USER_ID_MAX or not user_id.isprintable():
        raise _invalid("must be 1 to 128 printable characters", "user_id")
    practice = document.get("practice")
    if not isinstance(practice, dict):
        raise _invalid("required, a JSON object", "practice")
    _check_practice(practice)
    return MapRequest(user_id=user_id, practice=practice)
