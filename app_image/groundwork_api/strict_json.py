"""JSON parsed strictly for security decisions: UTF-8 only, no key twice in one object, no NaN or Infinity."""

from __future__ import annotations

import json
import math
import re


class StrictJsonError(ValueError):
    """The text is not JSON this service trusts; the message says why without quoting the text."""


class RepeatedKeyError(StrictJsonError):
    """An object carries one key twice."""

    def __init__(self, key: str):
        self.key = key
        super().__init__(f"the key {key[:64]!r} appears twice")


def _object(pairs: list[tuple[str, object]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            # json.loads would keep the last value; a signer and a reader that disagree on which one counts is
            # how a claim gets smuggled past a check.
            raise RepeatedKeyError(key)
        result[key] = value
    return result


def _constant(name: str) -> object:
    raise StrictJsonError(f"{name} is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJsonError("a number is too large for a double")
    return value


def loads(data: bytes) -> object:
    """Parse UTF-8 JSON, refusing repeated keys (at any depth), non-finite numbers, unpaired surrogates and other
    encodings."""
    try:
        text = data.decode("utf-8")
        document = json.loads(text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float)
    except StrictJsonError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StrictJsonError("not valid UTF-8 JSON") from None
    if _surrogate_escape.search(text) and _holds_surrogate(document):
        raise StrictJsonError("a string holds an unpaired surrogate (a \\ud800-\\udfff escape), which is not text")
    return document


# A \ud800-\udfff escape: a pair of them is one character, a lone one is not text (UTF-8 cannot encode it).
_surrogate_escape = re.compile(r"\\u[dD][89a-fA-F]")
_surrogate = re.compile("[\ud800-\udfff]")


def _holds_surrogate(document: object) -> bool:
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str) and _surrogate.search(value):
            return True
        if isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
