"""Idempotency keys: a retried POST /map with the same key and body gets the first answer and writes nothing again."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import orjson
import psycopg

from .errors import ApiError

HEADER = "Idempotency-Key"
KEY_MAX = 128
KEY_CHARACTERS = "A-Za-z0-9._:~+/=-"
KEY_PATTERN = f"^[{KEY_CHARACTERS}]+$"
PRUNE_BATCH = 10000
_key_shape = re.compile(f"[{KEY_CHARACTERS}]{{1,{KEY_MAX}}}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    subject     bytea NOT NULL,
    key         text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 128),
    fingerprint bytea NOT NULL,
    status      smallint,
    body        bytea,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (subject, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON idempotency_keys (created_at);
"""

# The claim, the cap, the write and the saved answer are one statement: record_sql.KEYED_WRITE_SCHEMA.
_PRUNE = """
DELETE FROM idempotency_keys WHERE ctid IN (
    SELECT ctid FROM idempotency_keys WHERE created_at < clock_timestamp() - make_interval(secs => %s) LIMIT %s
)
"""


@dataclass(frozen=True, slots=True)
class Key:
    """One caller's idempotency key and the fingerprint of the request it was first used with."""

    subject: bytes
    key: str
    fingerprint: bytes
    ttl: float
    cap: int = 1000
    """Live keys one subject may hold."""

    def params(self) -> dict:
        return {"subject": self.subject, "key": self.key, "fingerprint": self.fingerprint, "ttl": self.ttl}


@dataclass(frozen=True, slots=True)
class Replay:
    """The answer first given for a key."""

    status: int
    body: bytes


class KeyReused(Exception):
    """The key was first used with a different request."""


class KeysExhausted(Exception):
    """The subject holds as many live keys as it may; `retry_after` is when its oldest one expires (seconds)."""

    def __init__(self, cap: int, retry_after: int):
        super().__init__(f"{cap} live keys")
        self.cap = cap
        self.retry_after = retry_after


def from_request(header: str | None, subject: str, request: object, ttl: float, cap: int = 1000) -> Key | None:
    """The request's key, scoped to the token's subject; None without the header; a 400 ApiError if malformed."""
    if header is None:
        return None
    if not _key_shape.fullmatch(header):
        raise ApiError(
            400,
            "bad_request",
            f"{HEADER} must be 1 to {KEY_MAX} characters from A-Z a-z 0-9 . _ : ~ + / = -",
            HEADER,
        )
    # Keys are scoped by a digest of the subject: bounded in size, and one caller cannot read another's answers.
    scope = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).digest()
    fingerprint = hashlib.sha256(orjson.dumps(request, default=exact_number, option=orjson.OPT_SORT_KEYS)).digest()
    return Key(scope, header, fingerprint, ttl, cap)


def exact_number(value: object) -> orjson.Fragment:
    """orjson's hook for the Decimals of a validated request: written as the exact number they hold."""
    return orjson.Fragment(str(value))


async def prune(conn: psycopg.AsyncConnection, ttl: float) -> int:
    """Delete up to PRUNE_BATCH expired keys; return how many."""
    cursor = await conn.execute(_PRUNE, (ttl, PRUNE_BATCH))
    return cursor.rowcount
