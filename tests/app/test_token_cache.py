"""The token verifier remembers verified tokens, re-checks their expiry on every hit, and stays bounded."""

from __future__ import annotations

import sys
import time

import jwt
import pytest

from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api import auth
from groundwork_api.errors import ApiError

SECRET = "s" * 40


def _token(key: str = SECRET, **claims) -> str:
    payload = {"iss": "i", "aud": "a", "exp": int(time.time()) + 60, **claims}
    return jwt.encode(payload, key, algorithm="HS256")


@pytest.fixture
def decodes(monkeypatch):
    calls = []
    real = jwt.decode

    def counting(token, *args, **kwargs):
        calls.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counting)
    return calls


def test_a_verified_token_is_not_verified_again(decodes):
    verifier = auth.TokenVerifier([SECRET], "i", "a", leeway=0)
    token = _token()
    assert verifier.verify(f"Bearer {token}") == verifier.verify(f"Bearer {token}")
    assert decodes == [token]


def test_a_remembered_token_past_its_expiry_is_verified_again(decodes, monkeypatch):
    verifier = auth.TokenVerifier([SECRET], "i", "a", leeway=0)
    token = _token()
    verifier.verify(f"Bearer {token}")
    monkeypatch.setattr(auth.time, "time", lambda: time.monotonic() + 10**10)
    verifier.verify(f"Bearer {token}")
    assert decodes == [token, token]


def test_a_token_that_fails_is_never_remembered(decodes):
    verifier = auth.TokenVerifier([SECRET], "i", "a", leeway=0)
    forged = _token()[:-2] + "xx"
    for _ in range(2):
        with pytest.raises(ApiError):
            verifier.verify(f"Bearer {forged}")
    assert decodes == [forged, forged]


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(auth, "CACHE_SIZE", 3)
    verifier = auth.TokenVerifier([SECRET], "i", "a", leeway=0)
    for n in range(5):
        verifier.verify(f"Bearer {_token(sub=str(n))}")
    assert len(verifier._verified) == 3


NEXT, PREVIOUS = "n" * 40, "p" * 40


def test_the_current_key_is_tried_first_then_next_then_previous(decodes):
    verifier = auth.TokenVerifier([SECRET, NEXT, PREVIOUS], "i", "a", leeway=0)
    for key, attempts in ((SECRET, 1), (NEXT, 2), (PREVIOUS, 3)):
        decodes.clear()
        token = _token(key)
        assert verifier.verify(f"Bearer {token}")["iss"] == "i"
        assert decodes == [token] * attempts


def test_a_token_signed_with_another_key_fails_on_its_signature(decodes):
    verifier = auth.TokenVerifier([SECRET, NEXT, PREVIOUS], "i", "a", leeway=0)
    with pytest.raises(ApiError) as caught:
        verifier.verify(f"Bearer {_token('o' * 40)}")
    assert caught.value.status == 401
    assert "signature" in caught.value.message
    assert len(decodes) == 3


def test_other_checks_still_apply_with_a_rotated_key():
    verifier = auth.TokenVerifier([SECRET, NEXT, ""], "i", "a", leeway=0)
    with pytest.raises(ApiError) as caught:
        verifier.verify(f"Bearer {_token(NEXT, aud='elsewhere')}")
    assert "audience" in caught.value.message
