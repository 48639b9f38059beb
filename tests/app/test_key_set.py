"""The issuer's key set: fetched over HTTP from a real loopback server, refetched on an unknown kid at most once per
interval, shared by concurrent callers, and only usable public signing keys are kept."""

from __future__ import annotations

import asyncio
import json
import sys

import jwt
import pytest

from tests.app.issuer import JwksServer, SigningKey
from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api.jwks import MAX_DOCUMENT_BYTES, KeySet, KeySetError, parse_key_set


@pytest.fixture
def issuer():
    server = JwksServer([SigningKey.rsa("first")]).start()
    yield server
    server.stop()


def test_an_unknown_kid_refetches_once_per_interval(issuer):
    async def go():
        keys = KeySet(issuer.url, refetch_interval=3600)
        await keys.refresh()
        issuer.keys.append(SigningKey.ec("rotated-in"))
        found = await keys.find("rotated-in")
        for n in range(20):
            assert await keys.find(f"forged-{n}") is None
        return found

    assert asyncio.run(go()).algorithm == "ES256"
    assert issuer.fetches == 2, "the start-up fetch, then one for the first unknown kid; none for the forged ones"


def test_an_unknown_kid_refetches_again_after_the_interval(issuer):
    async def go():
        keys = KeySet(issuer.url, refetch_interval=0)
        await keys.refresh()
        for n in range(3):
            assert await keys.find(f"unknown-{n}") is None

    asyncio.run(go())
    assert issuer.fetches == 4


def test_concurrent_callers_share_one_fetch(issuer):
    async def go():
        keys = KeySet(issuer.url, refetch_interval=0)
        issuer.keys.append(SigningKey.rsa("new"))
        return await asyncio.gather(*(keys.find("new") for _ in range(25)))

    found = asyncio.run(go())
    assert all(key is not None and key.kid == "new" for key in found)
    assert issuer.fetches == 1


def test_a_failed_fetch_keeps_the_keys_it_had(issuer):
    async def go():
        keys = KeySet(issuer.url, refetch_interval=0)
        await keys.refresh()
        issuer.status = 500
        with pytest.raises(KeySetError, match="HTTP 500"):
            await keys.refresh()
        return await keys.find("first")

    assert asyncio.run(go()) is not None


def test_nothing_loaded_is_reported_not_guessed(issuer):
    issuer.status = 503

    async def go():
        keys = KeySet(issuer.url, refetch_interval=0)
        assert await keys.find("first") is None
        return keys.loaded

    assert asyncio.run(go()) is False


def test_a_redirect_is_never_followed(issuer):
    elsewhere = JwksServer([SigningKey.rsa("attacker")]).start()
    issuer.redirect_to = elsewhere.url
    try:

        async def go():
            with pytest.raises(KeySetError, match="HTTP 302"):
                await KeySet(issuer.url).refresh()

        asyncio.run(go())
        assert elsewhere.fetches == 0
    finally:
        elsewhere.stop()


def test_an_oversized_document_is_refused(issuer):
    issuer.document = b'{"keys": [], "pad": "' + b"x" * MAX_DOCUMENT_BYTES + b'"}'

    async def go():
        with pytest.raises(KeySetError, match="larger than"):
            await KeySet(issuer.url).refresh()

    asyncio.run(go())


def test_a_withdrawn_key_changes_the_version(issuer):
    async def go():
        keys = KeySet(issuer.url, refetch_interval=0)
        await keys.refresh()
        before = keys.version
        issuer.keys = [SigningKey.rsa("replacement")]
        await keys.refresh()
        return before, keys.version, await keys.find("first")

    before, after, withdrawn = asyncio.run(go())
    assert after > before
    assert withdrawn is None


def _document(*entries: dict) -> bytes:
    return json.dumps({"keys": list(entries)}).encode()


def test_only_usable_public_signing_keys_are_kept():
    good_rsa, good_ec = SigningKey.rsa("rsa"), SigningKey.ec("ec")
    small = SigningKey.rsa("small", bits=1024)
    private = {**good_rsa.jwk(), "kid": "private", **_private_part(good_rsa)}
    entries = [
        good_rsa.jwk(),
        good_ec.jwk(),
        small.jwk(),
        private,
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"},
        {**good_rsa.jwk(), "kid": "encryption", "use": "enc"},
        {**good_rsa.jwk(), "kid": "rsa-as-es", "alg": "ES256"},
        {**good_ec.jwk(), "kid": "ec-as-rs", "alg": "RS256"},
        {**good_rsa.jwk(), "kid": "ps256", "alg": "PS256"},
        {**good_rsa.jwk(), "kid": None},
        "not an object",
    ]
    keys, skipped = parse_key_set(_document(*entries))
    assert sorted(keys) == ["ec", "rsa"]
    assert len(skipped) == len(entries) - 2
    assert any("1024 bits" in reason for reason in skipped)
    assert any("private key material" in reason for reason in skipped)


def test_a_kid_that_appears_twice_is_used_for_neither():
    one, two = SigningKey.rsa("twin"), SigningKey.rsa("twin")
    with pytest.raises(KeySetError, match="appears twice"):
        parse_key_set(_document(one.jwk(), two.jwk()))


@pytest.mark.parametrize(
    "document",
    [b"", b"[]", b'{"keys": {}}', b'{"keys": [], "keys": []}', b'{"keys": []}', b"\xff"],
    ids=["empty", "a list", "keys not a list", "keys twice", "no keys", "not UTF-8"],
)
def test_a_document_without_usable_keys_is_an_error(document):
    with pytest.raises(KeySetError):
        parse_key_set(document)


def _private_part(key: SigningKey) -> dict:
    private = jwt.get_algorithm_by_name("RS256").to_jwk(key.private, as_dict=True)
    return {"d": private["d"]}
