"""HS256 tokens for the tests: a user's (its subject is the user_id it owns) and an admin's (any user_id)."""

from __future__ import annotations

from tests.conftest import mint_token

ADMIN_SCOPE = "map/admin"
ADMIN_SUBJECT = "tests-admin"


def admin_token(ttl: float = 300, **claims) -> str:
    """A token with the admin scope: reads and writes every user's record (each access is logged)."""
    return mint_token(ttl=ttl, **{"sub": ADMIN_SUBJECT, "scope": ADMIN_SCOPE, **claims})


def user_token(user_id: str, ttl: float = 300, **claims) -> str:
    """A user's token: reads and writes only the record whose user_id is its subject."""
    return mint_token(ttl=ttl, sub=user_id, **claims)
