"""Bearer-token authentication: HS256 JWTs with expiry, issuer and audience checked."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

import jwt

from .errors import ApiError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="groundwork"'}
CACHE_SIZE = 4096


class TokenVerifier:
    """Verifies the Authorization header of a request against the service's signing keys, the current one first."""

    def __init__(self, keys: Sequence[str], issuer: str, audience: str, leeway: float):
        # Rotation promotes the next key to current and the current to previous: a token signed with any of them
        # is accepted, so tasks started before or after a rotation agree.
        self._keys = tuple(dict.fromkeys(key for key in keys if key))
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        # Tokens already verified, by their exact text: a client reuses its token for many requests, and a full
        # verification costs about 90 us here. A hit re-checks the expiry; the text includes the signature.
        self._verified: dict[str, dict] = {}

    def verify(self, authorization: str | None) -> dict:
        """Return the token's claims or raise a 401 ApiError that says why, never echoing the token."""
        if not authorization:
            raise ApiError(401, "unauthorized", "missing Authorization: Bearer token", headers=_CHALLENGE)
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "Authorization must be 'Bearer <token>'", headers=_CHALLENGE)
        claims = self._verified.get(token)
        if claims is not None:
            if time.time() < claims["exp"] + self._leeway:
                return claims
            del self._verified[token]
        claims = self._decode(token)
        if len(self._verified) >= CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = claims
        return claims

    def _decode(self, token: str) -> dict:
        try:
            for key in self._keys[:-1]:
                with contextlib.suppress(jwt.InvalidSignatureError):
                    return self._decode_with(token, key)
            return self._decode_with(token, self._keys[-1])
        except jwt.ExpiredSignatureError:
            reason = "token has expired"
        except jwt.InvalidAudienceError:
            reason = "token audience is not accepted"
        except jwt.InvalidIssuerError:
            reason = "token issuer is not accepted"
        except jwt.MissingRequiredClaimError as exc:
            reason = f"token lacks the {exc.claim!r} claim"
        except jwt.InvalidAlgorithmError:
            reason = "token algorithm is not accepted; allowed: HS256"
        except jwt.InvalidSignatureError:
            reason = "token signature is invalid"
        except jwt.InvalidTokenError:
            reason = "token is malformed"
        raise ApiError(401, "unauthorized", reason, headers=_CHALLENGE)

    def _decode_with(self, token: str, key: str) -> dict:
        return jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            issuer=self._issuer,
            audience=self._audience,
            leeway=self._leeway,
            options={"require": ["exp", "iss", "aud"]},
        )
