"""The POST /map request schema: what can be stored exactly, with its size, nesting and character limits."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal

from .errors import ApiError

USER_ID_MAX = 128
MAX_DEPTH = 16
MAX_NODES = 5000
MAX_KEY_CHARS = 256
MAX_STRING_CHARS = 16384
# PostgreSQL stores a JSON number as an exact decimal (numeric) and returns it written out in full: 1e400 comes back
# as 401 digits. The bound keeps that expansion small while covering every finite double (at most 341 digits).
MAX_NUMBER_DIGITS = 1000
ALLOWED_FIELDS = frozenset({"user_id", "practice"})

# Characters a user_id may not contain, as a regular expression class written in \u escapes so that Python and
# ECMA-262 (the OpenAPI document's dialect) read it the same way: controls, whitespace other than the space, and
# invisible formatting characters (soft hyphen, zero-width and bidirectional marks, byte order mark).
USER_ID_FORBIDDEN = (
    r"[\u0000-\u001f\u007f-\u00a0\u00ad\u061c\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff"
    r"\ufff9-\ufffb]"
)
# Strings and keys inside practice may hold anything but NUL, which PostgreSQL's text and jsonb cannot store.
TEXT_FORBIDDEN = r"\u0000"

_user_id_forbidden = re.compile(USER_ID_FORBIDDEN)
_lone_surrogate = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class MapRequest:
    """A validated body of POST /map; numbers in practice are exact Decimals."""

    user_id: str
    practice: dict


def _invalid(message: str, field: str) -> ApiError:
    return ApiError(422, "validation_error", message, field)


def _not_json(message: str) -> ApiError:
    return ApiError(400, "invalid_json", f"body is not valid JSON: {message}")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _invalid("an object has this key twice; each key may appear once", duplicate[:32])
    return document


def _refuse_constant(name: str):
    raise _not_json(f"{name} is not a JSON number")


def _plain_digits(number: Decimal) -> int:
    """How many digits the number has written out in full, as PostgreSQL returns it (1E2 is 100, 1.50 is 1.50)."""
    _, digits, exponent = number.as_tuple()
    return max(len(digits) + exponent, 1) + max(-exponent, 0)


def _check_text(value: str, where: str, limit: int) -> None:
    if _lone_surrogate.search(value):
        raise _not_json(f"unpaired surrogate in a string at {where}")
    if len(value) > limit:
        raise _invalid(f"text longer than {limit} characters", where)
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
        elif isinstance(value, Decimal) and _plain_digits(value) > MAX_NUMBER_DIGITS:
            raise _invalid(f"a number may have at most {MAX_NUMBER_DIGITS} digits written out in full", where)


def _parse(body: bytes) -> object:
    """Strict RFC 8259 JSON in UTF-8, every number an exact Decimal, duplicate keys refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_json(f"invalid UTF-8 at byte {exc.start}") from None
    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise _not_json(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise _invalid(f"nested deeper than {MAX_DEPTH} levels", "practice") from None


def parse_map_request(body: bytes) -> MapRequest:
    """Parse and validate a POST /map body; raise ApiError (400 or 422) naming what is wrong."""
    document = _parse(body)
    if not isinstance(document, dict):
        raise _invalid("body must be a JSON object", "body")
    unknown = sorted(set(document) - ALLOWED_FIELDS)
    if unknown:
        raise _invalid(f"unknown field; allowed: {', '.join(sorted(ALLOWED_FIELDS))}", unknown[0][:64])
    user_id = document.get("user_id")
    if not isinstance(user_id, str):
        raise _invalid(f"required, a string of 1 to {USER_ID_MAX} characters", "user_id")
    _check_text(user_id, "user_id", USER_ID_MAX)
    if not user_id or _user_id_forbidden.search(user_id):
        raise _invalid(
            f"must be 1 to {USER_ID_MAX} characters without controls, whitespace other than the space, "
            "or invisible formatting characters",
            "user_id",
        )
    practice = document.get("practice")
    if not isinstance(practice, dict):
        raise _invalid("required, a JSON object", "practice")
    _check_practice(practice)
    return MapRequest(user_id=user_id, practice=practice)
