"""Ids of the local user pools, their clients and users, derived from names so a restarted moto server reuses them."""

from __future__ import annotations

import hashlib
import uuid

_USERS = uuid.UUID("6f1d3c0e-5b7a-4e1f-9a0c-2d8e4b6f7a91")
"""Namespace of the local users' subjects (uuid5)."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def pool_suffix(region: str, name: str) -> str:
    """What follows `<region>_` in the id of the pool named `name` (Cognito's ids are `<region>_<9 characters>`)."""
    return _digest(region, name)[:9]


def pool_id(region: str, name: str) -> str:
    return f"{region}_{pool_suffix(region, name)}"


def client_id(pool: str, name: str) -> str:
    """The id of the client named `name` in the pool (26 characters, as Cognito's)."""
    return _digest(pool, name)[:26]


def user_sub(pool: str, username: str) -> str:
    """The subject of a user: Cognito never changes it, so a user moto recreates keeps the one it had."""
    return str(uuid.uuid5(_USERS, f"{pool}/{username.lower()}"))
