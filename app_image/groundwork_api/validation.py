"""The POST /map request schema: what can be stored exactly, with its size, nesting and character limits."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import unquote_to_bytes

import orjson

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
# PostgreSQL writes a stored document back with a space after each ':' and ',' and every number in full.
_SEPARATOR_SPACES = (b":", b",")

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
# A \u escape of NUL or of a surrogate (or an escaped backslash followed by such text: a harmless false alarm).
_suspect_escape = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


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
    assert isinstance(exponent, int)  # JSON has no NaN or infinity, the only Decimals without one
    return max(len(digits) + exponent, 1) + max(-exponent, 0)


def _number(literal: str) -> Decimal:
    number = Decimal(literal)
    # Only a long literal or one with an exponent can exceed the limit written out in full.
    if (len(literal) > MAX_NUMBER_DIGITS or "e" in literal or "E" in literal) and (
        _plain_digits(number) > MAX_NUMBER_DIGITS
    ):
        raise _invalid(f"a number may have at most {MAX_NUMBER_DIGITS} digits written out in full", "practice")
    return number


def _path(link: tuple | None) -> str:
    """The readable location of a value from its (parent, key) chain, built only when reporting a problem."""
    parts: list[str] = []
    while link is not None:
        link, key = link
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key[:32]}")
    return "practice" + "".join(reversed(parts))


def _check_text(value: str, where: str, limit: int, suspect: bool = True) -> None:
    if suspect and _lone_surrogate.search(value):
        raise _not_json(f"unpaired surrogate in a string at {where}")
    if len(value) > limit:
        raise _invalid(f"text longer than {limit} characters", where)
    if suspect and "\x00" in value:
        raise _invalid("text must not contain NUL characters", where)


def _check_practice(root: dict, suspect: bool) -> None:
    """Walk the document iteratively (no recursion limit to hit) and enforce depth, size and content rules.

    suspect: whether the body has escapes that could hold NUL or an unpaired surrogate; without them (strict
    UTF-8 and JSON allow neither raw) the per-string character checks are skipped.
    """
    nodes = 0
    stack: list[tuple[object, int, tuple | None]] = [(root, 1, None)]
    while stack:
        value, depth, link = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _invalid(f"more than {MAX_NODES} values", "practice")
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise _invalid(f"nested deeper than {MAX_DEPTH} levels", _path(link))
            for key, item in value.items():
                if suspect or len(key) > MAX_KEY_CHARS:
                    _check_text(key, _path((link, key)), MAX_KEY_CHARS, suspect)
                stack.append((item, depth + 1, (link, key)))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                raise _invalid(f"nested deeper than {MAX_DEPTH} levels", _path(link))
            stack.extend((item, depth + 1, (link, i)) for i, item in enumerate(value))
        elif isinstance(value, str) and (suspect or len(value) > MAX_STRING_CHARS):
            _check_text(value, _path(link), MAX_STRING_CHARS, suspect)


def _parse(body: bytes) -> object:
    """Strict RFC 8259 JSON in UTF-8, every number an exact Decimal, duplicate keys refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_json(f"invalid UTF-8 at byte {exc.start}") from None
    try:
        return json.loads(
            text,
            parse_float=_number,
            parse_int=_number,
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
    _check_practice(practice, suspect=_suspect_escape.search(body) is not None)
    return MapRequest(user_id=user_id, practice=practice)


def stored_size(practice: dict) -> int:
    """The size in bytes of the practice as PostgreSQL stores and returns it: the compact JSON with every number
    written out in full (1e999 is 1000 digits) and a space after each separator; the bound of every answer."""
    expansion = 0
    stack: list[object] = [practice]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, Decimal):
            sign, _, exponent = value.as_tuple()
            point = 1 if isinstance(exponent, int) and exponent < 0 else 0  # _plain_digits refuses any other
            expansion += _plain_digits(value) + sign + point - 1
    compact = orjson.dumps(practice, default=_one_digit)
    return len(compact) + expansion + sum(compact.count(s) for s in _SEPARATOR_SPACES)


def _one_digit(value: object) -> orjson.Fragment:
    return orjson.Fragment(b"0")


def check_stored_size(practice: dict, limit: int) -> None:
    """Refuse (413) a practice whose stored form would exceed `limit` bytes, before anything is written."""
    size = stored_size(practice)
    if size > limit:
        raise ApiError(
            413,
            "document_too_large",
            f"the practice would be stored as {size} bytes (numbers written out in full); at most {limit}",
            "practice",
        )


def parse_user_id(segment: bytes) -> str:
    """A user_id from its percent-encoded path segment, held to the rules of POST /map; 422 otherwise."""
    try:
        user_id = unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("must be percent-encoded UTF-8", "user_id") from None
    if not 1 <= len(user_id) <= USER_ID_MAX or _user_id_forbidden.search(user_id):
        raise _invalid(
            f"must be 1 to {USER_ID_MAX} characters without controls, whitespace other than the space, "
            "or invisible formatting characters",
            "user_id",
        )
    return user_id
