"""Short-lived HS256 bearer tokens for the check's writes, minted with the standard library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

DEFAULT_TTL_S = 300
SUBJECT = "infra-smoke"
ADMIN_SCOPE = "map/admin"
"""The check writes records of its own (smoke-<run>-<worker>) and reads the heartbeat's details, which only the admin
scope may; whoever holds the stack's signing secret is its operator."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_token(
    secret: str,
    *,
    issuer: str,
    audience: str,
    ttl_s: int = DEFAULT_TTL_S,
    now: float | None = None,
    scope: str | None = ADMIN_SCOPE,
) -> str:
    """A JWT signed with HS256 carrying `iss`, `aud`, `sub`, `iat`, an `exp` `ttl_s` seconds ahead and `scope`."""
    issued = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"iss": issuer, "aud": audience, "sub": SUBJECT, "iat": issued, "exp": issued + ttl_s}
    if scope:
        claims["scope"] = scope
    signing_input = ".".join(_b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    signature = hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"
