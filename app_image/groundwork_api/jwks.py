"""The token issuer's signing keys (JWKS): fetched at start-up and on an unknown key id (at most once per interval)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import jwt
import jwt.algorithms
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from . import logs
from .strict_json import StrictJsonError, loads

ALGORITHMS = ("RS256", "ES256")
"""The only signature algorithms an issuer's key may be used with."""
REFETCH_INTERVAL_S = 30.0
"""An unknown key id fetches the key set again at most this often (a flood of forged key ids costs one fetch)."""
MAX_AGE_S = 3600.0
"""The key set is fetched again this often, so a key the issuer withdrew stops being accepted."""
FETCH_TIMEOUT_S = 5.0
MAX_DOCUMENT_BYTES = 256 * 1024
MIN_RSA_BITS = 2048


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A key set is fetched from the configured address only: a redirect is a failure, never followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


class KeySetError(Exception):
    """The key set could not be fetched or holds no usable key; the message says why (no key material)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One usable public key of the issuer."""

    kid: str
    algorithm: str
    key: object
    verifier: jwt.algorithms.Algorithm
    der: bytes
    """The public key as DER, to tell whether a fetch changed it."""

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        return self.verifier.verify(signing_input, self.key, signature)


def fetch_document(url: str, timeout: float = FETCH_TIMEOUT_S) -> bytes:
    """GET the key set document (blocking: run it in a thread); at most MAX_DOCUMENT_BYTES."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - https, or loopback http
    try:
        with _opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_DOCUMENT_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise KeySetError(f"the key set address answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise KeySetError(f"the key set could not be fetched ({type(reason).__name__})") from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise KeySetError(f"the key set document is larger than {MAX_DOCUMENT_BYTES} bytes")
    return body


def parse_key_set(document: bytes) -> tuple[dict[str, SigningKey], list[str]]:
    """The usable signing keys by key id, and why each other key was skipped."""
    try:
        parsed = loads(document)
    except StrictJsonError as exc:
        raise KeySetError(f"the key set is not valid JSON ({exc})") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("keys"), list):
        raise KeySetError("the key set is not a JSON object with a 'keys' list")
    keys: dict[str, SigningKey] = {}
    skipped: list[str] = []
    repeated: set[str] = set()
    for entry in parsed["keys"]:
        try:
            key = _signing_key(entry)
        except KeySetError as exc:
            skipped.append(str(exc))
            continue
        if key.kid in keys or key.kid in repeated:
            # Two keys under one id: which one signed a token cannot be told, so neither is used.
            repeated.add(key.kid)
            keys.pop(key.kid, None)
            skipped.append(f"key id {key.kid[:64]!r} appears twice")
            continue
        keys[key.kid] = key
    if not keys:
        raise KeySetError("the key set holds no usable signing key: " + ("; ".join(skipped[:5]) or "it is empty"))
    return keys, skipped


def _signing_key(entry: object) -> SigningKey:
    if not isinstance(entry, dict):
        raise KeySetError("an entry is not a JSON object")
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid:
        raise KeySetError("a key has no 'kid'")
    label = f"key {kid[:64]!r}"
    if entry.get("use", "sig") != "sig":
        raise KeySetError(f"{label} is not for signatures (use {entry.get('use')!r:.20})")
    kty = entry.get("kty")
    algorithm = entry.get("alg")
    if kty == "RSA":
        algorithm = algorithm or "RS256"
    elif kty == "EC" and entry.get("crv") == "P-256":
        algorithm = algorithm or "ES256"
    else:
        raise KeySetError(f"{label} has key type {kty!r:.20} (allowed: RSA, EC on P-256)")
    if algorithm not in ALGORITHMS or (kty == "RSA") != (algorithm == "RS256"):
        raise KeySetError(f"{label} is for algorithm {algorithm!r:.20} (allowed: RS256 with RSA, ES256 with EC)")
    if "d" in entry:
        raise KeySetError(f"{label} carries private key material")
    try:
        parsed = jwt.PyJWK(entry, algorithm)
    except jwt.PyJWTError:
        raise KeySetError(f"{label} could not be read") from None
    public = parsed.key
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < MIN_RSA_BITS:
        raise KeySetError(f"{label} is an RSA key of {public.key_size} bits (allowed: at least {MIN_RSA_BITS})")
    if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise KeySetError(f"{label} is not a public key")
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return SigningKey(kid, algorithm, public, parsed.Algorithm, der)


class KeySet:
    """The issuer's current keys, shared by every request of this process; fails closed when none could be loaded."""

    def __init__(
        self,
        url: str,
        *,
        refetch_interval: float = REFETCH_INTERVAL_S,
        max_age: float = MAX_AGE_S,
        timeout: float = FETCH_TIMEOUT_S,
    ):
        self.url = url
        self.refetch_interval = refetch_interval
        self.max_age = max_age
        self.timeout = timeout
        self.version = 0
        """Increases whenever the keys change, so verified tokens remembered elsewhere can be forgotten."""
        self._keys: dict[str, SigningKey] = {}
        self._last_on_demand = -math.inf
        self._inflight: asyncio.Future | None = None

    @property
    def loaded(self) -> bool:
        return bool(self._keys)

    async def find(self, kid: str) -> SigningKey | None:
        """The key with this id; an unknown id fetches the set again, unless that was done within the interval."""
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._inflight is None:
            now = time.monotonic()
            if now - self._last_on_demand < self.refetch_interval:
                return None
            self._last_on_demand = now
        with contextlib.suppress(KeySetError):
            await self.refresh()
        return self._keys.get(kid)

    async def refresh(self) -> None:
        """Fetch the key set now; concurrent callers share one fetch. Raises KeySetError; the old keys stay then."""
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._load())
            self._inflight.add_done_callback(self._finished)
        await asyncio.shield(self._inflight)

    def _finished(self, future: asyncio.Future) -> None:
        self._inflight = None
        if not future.cancelled():
            future.exception()  # retrieved here, so an exception nobody awaited is not reported as lost

    async def _load(self) -> None:
        try:
            document = await asyncio.to_thread(fetch_document, self.url, self.timeout)
            keys, skipped = parse_key_set(document)
        except KeySetError as exc:
            logs.emit("warning", "token signing keys not loaded", reason=str(exc), kept=len(self._keys))
            raise
        if keys.keys() != self._keys.keys() or any(keys[k].der != self._keys[k].der for k in keys):
            self.version += 1
        self._keys = keys
        logs.emit("info", "token signing keys loaded", keys=sorted(keys), skipped=skipped)

    async def keep_fresh(self) -> None:
        """Fetch at start-up, then every max_age; after a failure, again every refetch interval until it works."""
        while True:
            try:
                await self.refresh()
            except KeySetError:
                await asyncio.sleep(self.refetch_interval)
            else:
                await asyncio.sleep(self.max_age)
