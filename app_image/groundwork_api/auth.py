"""Bearer-token verification: OIDC access tokens against the issuer's keys, or HS256 tokens against the stack's keys."""

from __future__ import annotations

import base64
import binascii
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, overload

from jwt.algorithms import HMACAlgorithm

from .access import ADMIN, READ, WRITE, Principal
from .errors import ApiError
from .jwks import ALGORITHMS, KeySet
from .strict_json import RepeatedKeyError, StrictJsonError, loads

CHALLENGE = 'Bearer realm="groundwork"'
CACHE_SIZE = 4096
MAX_TOKEN_CHARS = 16 * 1024
REFUSED_HEADER_FIELDS = ("jku", "x5u", "jwk", "x5c", "crit")
"""Header fields that would point at, embed or extend the key: the key comes only from the configured set."""
KEYS_RETRY_AFTER_S = 5
ACCESS_TOKEN_USE = "access"  # noqa: S105 - Cognito's token_use of access tokens, not a secret
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """What a token must say to be accepted, whichever key signed it."""

    issuer: str
    audiences: tuple[str, ...]
    """Accepted values of `client_id` (Cognito access tokens) and of `aud` (other issuers)."""
    leeway: float
    max_lifetime: float
    scope_prefix: str = ""
    user_scope: str = ""
    """A scope that grants read and write on the user's own record (never admin); empty: none does."""
    require_scopes: bool = True
    """False for the stack's HS256 tokens: those read and write their subject's record without scopes."""


def _refuse(reason: str) -> ApiError:
    return ApiError(401, "unauthorized", reason, headers={"WWW-Authenticate": CHALLENGE})


def _segment(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _refuse("token is malformed") from None


@overload
def _number(claims: dict, name: str, *, required: Literal[True]) -> float: ...
@overload
def _number(claims: dict, name: str, *, required: bool) -> float | None: ...
def _number(claims: dict, name: str, *, required: bool) -> float | None:
    if name not in claims:
        if required:
            raise _refuse(f"token lacks the {name!r} claim")
        return None
    value = claims[name]
    # A numeric string ("exp": "9999999999") is not a NumericDate, whatever some libraries accept.
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise _refuse(f"token claim {name!r} must be a number (seconds since the epoch)")
    return float(value)


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any double: 10**400
        return False


def _scopes(claims: dict) -> frozenset[str]:
    scopes: set[str] = set()
    scope = claims.get("scope")
    if scope is not None:
        if not isinstance(scope, str):
            raise _refuse("token claim 'scope' must be a space-separated string")
        scopes.update(scope.split())
    scp = claims.get("scp")  # Okta and Entra ID name their scopes here
    if scp is not None:
        if isinstance(scp, str):
            scopes.update(scp.split())
        elif isinstance(scp, list) and all(isinstance(item, str) for item in scp):
            scopes.update(scp)
        else:
            raise _refuse("token claim 'scp' must be a string or a list of strings")
    return frozenset(scopes)


class TokenVerifier:
    """Verifies the Authorization header of a request; remembers tokens it verified until they expire."""

    def __init__(self, policy: TokenPolicy, *, secrets: Sequence[str] = (), keys: KeySet | None = None):
        if (keys is None) == (not any(secrets)):
            raise ValueError("a verifier needs either an issuer's key set or HS256 secrets")
        self.policy = policy
        self.keys = keys
        # Rotation promotes the next key to current and the current to previous: a token signed with any of them
        # is accepted, so tasks started before or after a rotation agree.
        self._hmac = HMACAlgorithm(HMACAlgorithm.SHA256)
        self._secrets = tuple(self._hmac.prepare_key(s) for s in dict.fromkeys(s for s in secrets if s))
        self.algorithms = ALGORITHMS if keys is not None else ("HS256",)
        # Tokens already verified, by their exact text (which includes the signature): a client reuses its token
        # for many requests. A hit re-checks the expiry; a change of the issuer's keys forgets them all.
        self._verified: dict[str, Principal] = {}
        self._keys_version = 0

    async def verify(self, authorization: str | None) -> Principal:
        """The token's principal, or a 401 ApiError that says why (never echoing the token)."""
        if not authorization:
            raise _refuse("missing Authorization: Bearer token")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _refuse("Authorization must be 'Bearer <token>'")
        if self.keys is not None and self.keys.version != self._keys_version:
            self._verified.clear()
            self._keys_version = self.keys.version
        principal = self._verified.get(token)
        if principal is not None:
            if time.time() <= principal.expires + self.policy.leeway:
                return principal
            del self._verified[token]
        principal = self.principal(await self.claims(token))
        if len(self._verified) >= CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = principal
        return principal

    async def claims(self, token: str) -> dict:
        """The claims of a token whose form and signature are valid; the claims themselves are not checked yet."""
        parts = token.split(".")
        if len(token) > MAX_TOKEN_CHARS or len(parts) != 3 or not all(_SEGMENT.fullmatch(p) for p in parts):
            raise _refuse("token is malformed")
        try:
            header = loads(_segment(parts[0]))
        except StrictJsonError:
            raise _refuse("token is malformed") from None
        if not isinstance(header, dict):
            raise _refuse("token is malformed")
        if header.get("alg") not in self.algorithms:
            raise _refuse(f"token algorithm is not accepted; allowed: {', '.join(self.algorithms)}")
        for name in REFUSED_HEADER_FIELDS:
            if name in header:
                raise _refuse(f"token header field {name!r} is not accepted; keys come only from the configured set")
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
        signature = _segment(parts[2])
        if self.keys is None:
            if not any(self._hmac.verify(signing_input, secret, signature) for secret in self._secrets):
                raise _refuse("token signature is invalid")
        else:
            await self._verify_with_issuer_key(self.keys, header, signing_input, signature)
        try:
            claims = loads(_segment(parts[1]))
        except RepeatedKeyError as exc:
            raise _refuse(f"token payload repeats the claim {exc.key[:64]!r}") from None
        except StrictJsonError:
            raise _refuse("token is malformed") from None
        if not isinstance(claims, dict):
            raise _refuse("token is malformed")
        return claims

    async def _verify_with_issuer_key(self, keys: KeySet, header: dict, signing_input: bytes, signature: bytes) -> None:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _refuse("token header lacks a 'kid'")
        key = await keys.find(kid)
        if key is None:
            if not keys.loaded:
                # Fail closed, but say it is the service's side: the token may well be good.
                raise ApiError(
                    503,
                    "auth_unavailable",
                    "the token issuer's signing keys could not be loaded; retry later",
                    headers={"Retry-After": str(KEYS_RETRY_AFTER_S)},
                )
            raise _refuse("token key id is not in the issuer's key set")
        if key.algorithm != header["alg"]:
            raise _refuse("token algorithm does not match its key")
        if not key.verify(signing_input, signature):
            raise _refuse("token signature is invalid")

    def principal(self, claims: dict, now: float | None = None) -> Principal:
        """Check the claims of a token with a valid signature; the principal it speaks for, or a 401 ApiError."""
        policy = self.policy
        now = time.time() if now is None else now
        if "iss" not in claims:
            raise _refuse("token lacks the 'iss' claim")
        if claims["iss"] != policy.issuer:
            raise _refuse("token issuer is not accepted")
        exp = _number(claims, "exp", required=True)
        # Every OIDC issuer sets iat; the stack's own HS256 tokens may leave it out.
        iat = _number(claims, "iat", required=policy.require_scopes)
        nbf = _number(claims, "nbf", required=False)
        if now > exp + policy.leeway:
            raise _refuse("token has expired")
        if nbf is not None and nbf > now + policy.leeway:
            raise _refuse("token is not valid yet (its 'nbf' is in the future)")
        if iat is not None and iat > now + policy.leeway:
            raise _refuse("token was issued in the future (its 'iat' is ahead of this server's clock)")
        if exp - now > policy.max_lifetime + policy.leeway or (iat is not None and exp - iat > policy.max_lifetime):
            raise _refuse(f"token lifetime exceeds the maximum of {policy.max_lifetime:g} s")
        token_use = claims.get("token_use")
        if token_use is not None and token_use != ACCESS_TOKEN_USE:
            raise _refuse("token is not an access token (token_use must be 'access')")
        client_id = self._check_client(claims)
        subject = claims.get("sub")
        if subject is None:
            raise _refuse("token lacks the 'sub' claim")
        if not isinstance(subject, str) or not subject.strip():
            raise _refuse("token claim 'sub' must be a non-empty string")
        scopes = _scopes(claims)
        prefix = policy.scope_prefix
        own = bool(policy.user_scope) and policy.user_scope in scopes
        return Principal(
            subject=subject,
            client_id=client_id or subject,
            admin=prefix + ADMIN in scopes,
            may_read=not policy.require_scopes or own or prefix + READ in scopes,
            may_write=not policy.require_scopes or own or prefix + WRITE in scopes,
            expires=exp,
        )

    def _check_client(self, claims: dict) -> str:
        """The client the token was issued to; it must be allowed, by `client_id` and by `aud` where either is set."""
        allowed = self.policy.audiences
        client_id = claims.get("client_id")
        audience = claims.get("aud")
        if client_id is None and audience is None:
            raise _refuse("token lacks both the 'client_id' and the 'aud' claim")
        if client_id is not None and (not isinstance(client_id, str) or client_id not in allowed):
            raise _refuse("token client is not accepted")
        if audience is not None:
            audiences = [audience] if isinstance(audience, str) else audience
            if not isinstance(audiences, list) or not any(isinstance(a, str) and a in allowed for a in audiences):
                raise _refuse("token audience is not accepted")
        for name in ("client_id", "azp", "cid"):
            if isinstance(claims.get(name), str):
                return claims[name]
        return ""
