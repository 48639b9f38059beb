"""The token verifier remembers verified tokens, re-checks their expiry on every hit, and stays bounded; claims are
checked the same way whichever key signed the token."""

from __future__ import annotations

import asyncio
import sys
import time

import jwt
import pytest

from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api import auth
from groundwork_api.errors import ApiError

SECRET = "s" * 40
NEXT, PREVIOUS = "n" * 40, "p" * 40
POLICY = auth.TokenPolicy(issuer="i", audiences=("a",), leeway=0, max_lifetime=3600, require_scopes=False)


def _token(key: str = SECRET, **claims) -> str:
    payload = {"iss": "i", "aud": "a", "sub": "s", "exp": int(time.time()) + 60, **claims}
    return jwt.encode(payload, key, algorithm="HS256")


def _verifier(*secrets: str, policy: auth.TokenPolicy = POLICY) -> auth.TokenVerifier:
    return auth.TokenVerifier(policy, secrets=secrets or (SECRET,))


def _verify(verifier: auth.TokenVerifier, token: str):
    return asyncio.run(verifier.verify(f"Bearer {token}"))


@pytest.fixture
def decodes(monkeypatch):
    """Every full verification (signature and claims), by token."""
    calls = []
    real = auth.TokenVerifier.claims

    async def counting(self, token):
        calls.append(token)
        return await real(self, token)

    monkeypatch.setattr(auth.TokenVerifier, "claims", counting)
    return calls


def test_a_verified_token_is_not_verified_again(decodes):
    verifier = _verifier()
    token = _token()
    assert _verify(verifier, token) == _verify(verifier, token)
    assert decodes == [token]


def test_a_remembered_token_past_its_expiry_is_refused(decodes, monkeypatch):
    verifier = _verifier()
    token = _token()
    _verify(verifier, token)
    monkeypatch.setattr(auth.time, "time", lambda: time.monotonic() + 10**10)
    with pytest.raises(ApiError, match="expired"):
        _verify(verifier, token)
    assert decodes == [token, token]


def test_a_token_that_fails_is_never_remembered(decodes):
    verifier = _verifier()
    forged = _token()[:-2] + "xx"
    for _ in range(2):
        with pytest.raises(ApiError):
            _verify(verifier, forged)
    assert decodes == [forged, forged]


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(auth, "CACHE_SIZE", 3)
    verifier = _verifier()
    for n in range(5):
        _verify(verifier, _token(sub=str(n)))
    assert len(verifier._verified) == 3


@pytest.mark.parametrize("key", [SECRET, NEXT, PREVIOUS], ids=["current", "next", "previous"])
def test_any_key_of_the_set_verifies(key):
    assert _verify(_verifier(SECRET, NEXT, PREVIOUS), _token(key)).subject == "s"


def test_a_token_signed_with_another_key_fails_on_its_signature():
    with pytest.raises(ApiError) as caught:
        _verify(_verifier(SECRET, NEXT, PREVIOUS), _token("o" * 40))
    assert caught.value.status == 401
    assert "signature" in caught.value.message


def test_other_checks_still_apply_with_a_rotated_key():
    with pytest.raises(ApiError) as caught:
        _verify(_verifier(SECRET, NEXT, ""), _token(NEXT, aud="elsewhere"))
    assert "audience" in caught.value.message


def test_the_admin_scope_makes_an_admin_and_nothing_else_does():
    verifier = _verifier()
    assert _verify(verifier, _token(scope="map/admin")).admin
    for scope in ("map/read map/write", "map/admin-ish", "prefix/map/admin", "MAP/ADMIN"):
        assert not _verify(verifier, _token(scope=scope)).admin, scope


def test_the_scope_prefix_is_part_of_every_scope():
    policy = auth.TokenPolicy(**{**_fields(POLICY), "scope_prefix": "https://api.example.com/"})
    verifier = _verifier(policy=policy)
    assert _verify(verifier, _token(scope="https://api.example.com/map/admin")).admin
    assert not _verify(verifier, _token(scope="map/admin")).admin


def test_issuer_tokens_need_the_route_scopes_unless_the_user_scope_grants_them():
    required = auth.TokenPolicy(**{**_fields(POLICY), "require_scopes": True})
    granting = auth.TokenPolicy(**{**_fields(required), "user_scope": "aws.cognito.signin.user.admin"})
    now = int(time.time())
    claims = {"iss": "i", "client_id": "a", "sub": "u", "iat": now, "exp": now + 60, "token_use": "access"}
    signin = {**claims, "scope": "aws.cognito.signin.user.admin"}
    verifier = _verifier()
    for policy, token, expected in (
        (required, signin, (False, False, False)),
        (granting, signin, (True, True, False)),
        (required, {**claims, "scope": "map/read"}, (True, False, False)),
        (required, {**claims, "scp": ["map/write"]}, (False, True, False)),
        (granting, {**claims, "scope": "aws.cognito.signin.user.admin map/admin"}, (True, True, True)),
    ):
        verifier.policy = policy
        principal = verifier.principal(token)
        assert (principal.may_read, principal.may_write, principal.admin) == expected, (policy, token)


def test_issuer_tokens_need_iat():
    verifier = _verifier(policy=auth.TokenPolicy(**{**_fields(POLICY), "require_scopes": True}))
    with pytest.raises(ApiError, match="'iat'"):
        verifier.principal({"iss": "i", "aud": "a", "sub": "u", "exp": time.time() + 60})


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"client_id": "a", "aud": "elsewhere"}, "audience"),
        ({"client_id": "elsewhere", "aud": "a"}, "client"),
        ({"client_id": ["a"]}, "client"),
        ({"aud": ["elsewhere", 7]}, "audience"),
        ({"aud": None}, "lacks both"),
    ],
)
def test_client_id_and_aud_must_both_be_allowed_where_set(claims, reason):
    token = {"iss": "i", "sub": "u", "exp": time.time() + 60, **claims}
    token = {k: v for k, v in token.items() if v is not None}
    with pytest.raises(ApiError, match=reason):
        _verifier().principal(token)


def test_a_list_audience_is_accepted_when_one_entry_is_allowed():
    principal = _verifier().principal({"iss": "i", "sub": "u", "exp": time.time() + 60, "aud": ["other", "a"]})
    assert principal.subject == "u"


def _fields(policy: auth.TokenPolicy) -> dict:
    return {name: getattr(policy, name) for name in policy.__dataclass_fields__}
