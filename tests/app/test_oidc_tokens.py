"""The API trusting an OIDC issuer (JWT_JWKS_URL): tokens checked against keys a real loopback JWKS server serves.

Every refused token gets a 401 that says why and writes nothing; a missing scope is a 403. Tokens are shaped as
Cognito issues them (client_id, token_use, prefixed scopes), as moto's local user pool does (only the sign-in
scope), and as other issuers do (aud, scp)."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.app.issuer import (
    ADMIN,
    APP_CLIENT,
    ISSUER,
    MACHINE_CLIENT,
    READ,
    SCOPE_PREFIX,
    SIGN_IN_SCOPE,
    WRITE,
    JwksServer,
    SigningKey,
    access_claims,
    b64,
    machine_claims,
)

MAX_LIFETIME = 3600
RSA_KEY, EC_KEY = SigningKey.rsa("pool-rsa"), SigningKey.ec("pool-ec")
ATTACKER = SigningKey.rsa("attacker")
IMPOSTOR = SigningKey.rsa(RSA_KEY.kid)
"""An attacker's key published under the pool's key id."""


def _oidc_env(jwks_url: str) -> dict[str, str]:
    return {
        "WORKERS": "1",
        "JWT_SECRET": "",
        "JWT_JWKS_URL": jwks_url,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": f"{APP_CLIENT},{MACHINE_CLIENT}",
        "JWT_SCOPE_PREFIX": SCOPE_PREFIX,
        "JWT_USER_SCOPE": SIGN_IN_SCOPE,
        "JWT_MAX_LIFETIME": str(MAX_LIFETIME),
    }


@pytest.fixture(scope="module")
def jwks():
    server = JwksServer([RSA_KEY, EC_KEY]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def attacker_jwks():
    """Where a hostile token's jku or x5u points: the API must never ask it anything."""
    server = JwksServer([ATTACKER]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(postgres, jwks, start_app):
    return start_app(postgres.url(), **_oidc_env(jwks.url))


def _write(api, token: str, user_id: str) -> httpx.Response:
    return httpx.post(
        f"{api.base_url}/map",
        json={"user_id": user_id, "practice": {"via": "oidc"}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def _read(api, token: str, user_id: str, suffix: str = "") -> httpx.Response:
    return httpx.get(f"{api.base_url}/map/{user_id}{suffix}", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _stored(postgres, user_id: str) -> int:
    if postgres.query("SELECT to_regclass('user_practice')") == [(None,)]:
        return 0
    return postgres.query("SELECT count(*) FROM user_practice WHERE user_id = %s", (user_id,))[0][0]


def _unsigned(claims: dict, **header) -> str:
    head = {"alg": "none", "kid": RSA_KEY.kid, **header}
    return f"{b64(json.dumps(head).encode())}.{b64(json.dumps(claims).encode())}."


def _hs256_with_the_public_key(claims: dict) -> str:
    """The classic confusion: HS256 keyed with the issuer's public key, which anyone can fetch."""
    pem = RSA_KEY.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": RSA_KEY.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}".encode()
    signature = jwt.get_algorithm_by_name("HS256").sign(signing_input, pem)
    return f"{signing_input.decode()}.{b64(signature)}"


def _repeated(name: str, first: object, second: object, **claims) -> bytes:
    body = access_claims(**claims)
    body.pop(name, None)
    text = json.dumps(body)[:-1]
    return f'{text}, "{name}": {json.dumps(first)}, "{name}": {json.dumps(second)}}}'.encode()


def _cases(attacker_url: str) -> list[tuple[str, str, str]]:
    now = int(time.time())
    claims = access_claims
    attacker_jwk = ATTACKER.jwk()
    return [
        ("alg none", _unsigned(claims()), "algorithm is not accepted"),
        ("alg none, no signature segment", _unsigned(claims())[:-1], "malformed"),
        ("HS256 keyed with the public key", _hs256_with_the_public_key(claims()), "algorithm is not accepted"),
        ("RS512", RSA_KEY.sign(claims(), alg="RS512"), "algorithm is not accepted"),
        ("ES256 header on an RSA key", EC_KEY.sign(claims(), kid=RSA_KEY.kid), "does not match its key"),
        ("unknown kid", ATTACKER.sign(claims()), "key id is not in the issuer's key set"),
        ("no kid", RSA_KEY.sign(claims(), kid=None), "lacks a 'kid'"),
        ("pool kid, attacker's key", IMPOSTOR.sign(claims()), "signature is invalid"),
        ("jku to the attacker's keys", ATTACKER.sign(claims(), jku=attacker_url), "'jku' is not accepted"),
        ("x5u to the attacker", ATTACKER.sign(claims(), x5u=attacker_url), "'x5u' is not accepted"),
        ("embedded jwk", ATTACKER.sign(claims(), jwk=attacker_jwk), "'jwk' is not accepted"),
        ("embedded jwk, pool kid", ATTACKER.sign(claims(), jwk=attacker_jwk, kid=RSA_KEY.kid), "'jwk'"),
        ("crit header", RSA_KEY.sign(claims(), crit=["exp"]), "'crit' is not accepted"),
        ("exp as a string", RSA_KEY.sign(claims(exp=str(now + 300))), "'exp' must be a number"),
        ("exp a century ahead", RSA_KEY.sign(claims(exp=now + 100 * 365 * 86400)), "lifetime exceeds"),
        ("exp beyond the maximum", RSA_KEY.sign(claims(exp=now + MAX_LIFETIME + 600)), "lifetime exceeds"),
        ("iat to exp beyond the maximum", RSA_KEY.sign(claims(iat=now - MAX_LIFETIME)), "lifetime exceeds"),
        ("nbf in the future", RSA_KEY.sign(claims(nbf=now + 600)), "not valid yet"),
        ("iat in the future", RSA_KEY.sign(claims(iat=now + 600)), "issued in the future"),
        ("no iat", RSA_KEY.sign(claims(iat=None)), "lacks the 'iat' claim"),
        ("no exp", RSA_KEY.sign(claims(exp=None)), "lacks the 'exp' claim"),
        ("expired", RSA_KEY.sign(claims(iat=now - 1000, exp=now - 60)), "expired"),
        ("sub twice", RSA_KEY.sign(_repeated("sub", "victim", "attacker")), "repeats the claim 'sub'"),
        ("scope twice", RSA_KEY.sign(_repeated("scope", READ, f"{READ} {WRITE} {ADMIN}")), "repeats the claim"),
        ("client_id twice", RSA_KEY.sign(_repeated("client_id", "other", APP_CLIENT)), "repeats the claim"),
        ("no sub", RSA_KEY.sign(claims(sub=None)), "lacks the 'sub' claim"),
        ("empty sub", RSA_KEY.sign(claims(sub="")), "'sub' must be a non-empty string"),
        ("sub an object", RSA_KEY.sign(claims(sub={"id": "x"})), "'sub' must be a non-empty string"),
        ("wrong issuer", RSA_KEY.sign(claims(iss="https://cognito-idp.eu-west-1.amazonaws.com/other")), "issuer"),
        ("no issuer", RSA_KEY.sign(claims(iss=None)), "lacks the 'iss' claim"),
        ("wrong client", RSA_KEY.sign(claims(client="someone-elses-client")), "client is not accepted"),
        ("wrong audience", RSA_KEY.sign(claims(client_id=None, aud="another-api")), "audience is not accepted"),
        ("no client and no audience", RSA_KEY.sign(claims(client_id=None)), "lacks both"),
        ("an ID token", RSA_KEY.sign(claims(client_id=None, aud=APP_CLIENT, token_use="id")), "not an access token"),
        ("scope not a string", RSA_KEY.sign(claims(scope=[WRITE])), "'scope' must be a space-separated string"),
        ("payload a list", RSA_KEY.sign(b"[]"), "malformed"),
        ("NaN exp", RSA_KEY.sign(json.dumps(claims()).replace('"exp": ', '"exp": NaN, "x": ').encode()), "malformed"),
    ]


CASE_IDS = [case[0] for case in _cases("http://127.0.0.1:9/")]


@pytest.mark.parametrize("case", CASE_IDS)
def test_hostile_and_wrong_tokens_get_401_and_write_nothing(api, postgres, attacker_jwks, case):
    _, token, reason = next(c for c in _cases(attacker_jwks.url) if c[0] == case)
    user_id = f"oidc-{uuid.uuid4()}"
    response = _write(api, token, user_id)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert reason in response.json()["error"]["message"]
    assert _stored(postgres, user_id) == 0
    assert attacker_jwks.fetches == 0, "a key address named in a token is never fetched"


def _user(key: SigningKey = RSA_KEY, scope: str | None = f"{READ} {WRITE}", **claims) -> tuple[str, str]:
    user_id = f"user-{uuid.uuid4()}"
    return user_id, key.sign(access_claims(sub=user_id, scope=scope, **claims))


@pytest.mark.parametrize("key", [RSA_KEY, EC_KEY], ids=["RS256", "ES256"])
def test_a_cognito_user_token_writes_and_reads_its_own_record(api, key):
    user_id, token = _user(key)
    assert _write(api, token, user_id).status_code == 201
    assert _read(api, token, user_id).json()["practice"] == {"via": "oidc"}


def test_moto_shaped_tokens_with_only_the_sign_in_scope_act_on_their_own_record(api):
    """moto's user pool (and Cognito's SRP and password sign-in) puts only the sign-in scope in access tokens."""
    user_id, token = _user(scope=SIGN_IN_SCOPE, username="alice", origin_jti=str(uuid.uuid4()))
    assert _write(api, token, user_id).status_code == 201
    assert _read(api, token, user_id).status_code == 200
    other, _ = _user()
    assert _read(api, token, other).status_code == 403
    assert _write(api, token, other).status_code == 403


def test_another_issuers_shape_with_aud_and_scp_is_accepted(api):
    user_id, token = _user(client_id=None, scope=None, aud=["https://api.example.com", APP_CLIENT], scp=[WRITE])
    assert _write(api, token, user_id).status_code == 201


@pytest.mark.parametrize(
    ("scope", "route", "missing"),
    [
        (READ, "write", WRITE),
        (WRITE, "read", READ),
        (None, "write", WRITE),
        ("map/read map/write", "write", WRITE),
        (f"{READ} {ADMIN}", "write", WRITE),
    ],
    ids=["read only", "write only", "no scope", "unprefixed scopes", "admin without write"],
)
def test_a_missing_scope_is_403_and_names_the_scope(api, postgres, scope, route, missing):
    user_id, token = _user(scope=scope)
    response = _write(api, token, user_id) if route == "write" else _read(api, token, user_id)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert missing in response.json()["error"]["message"]
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert _stored(postgres, user_id) == 0


def test_a_user_is_refused_another_users_record_on_every_route(api):
    _, alice = _user()
    bob_id, bob = _user()
    assert _write(api, bob, bob_id).status_code == 201
    assert _write(api, alice, bob_id).status_code == 403
    assert _read(api, alice, bob_id).status_code == 403
    assert _read(api, alice, bob_id, "/summary").status_code == 403
    assert _read(api, bob, bob_id).json()["version"] == 1


def test_a_machine_token_with_the_admin_scope_acts_on_any_record_and_is_logged(api):
    user_id, token = _user()
    assert _write(api, token, user_id).status_code == 201
    machine = RSA_KEY.sign(machine_claims())
    request_id = f"machine-{uuid.uuid4()}"
    response = httpx.post(
        f"{api.base_url}/map",
        json={"user_id": user_id, "practice": {"via": "machine"}},
        headers={"Authorization": f"Bearer {machine}", "X-Request-ID": request_id},
    )
    assert response.json()["version"] == 2
    api.log_entry(request_id)
    audit = [json.loads(line) for line in api.log.read_text().splitlines() if "admin access" in line]
    assert any(e["client_id"] == MACHINE_CLIENT and e["user_id"] == user_id for e in audit), audit


def test_the_user_scope_never_grants_admin(api):
    _, token = _user(scope=f"{SIGN_IN_SCOPE} {READ} {WRITE}")
    other, _ = _user()
    assert _read(api, token, other).status_code == 403


@pytest.fixture
def rotating():
    """A JWKS server of its own, so no earlier request has used this interval's refetch."""
    server = JwksServer([SigningKey.rsa("before-rotation")]).start()
    yield server
    server.stop()


def test_a_rotated_key_is_fetched_once_and_forged_kids_fetch_nothing_more(postgres, start_app, rotating):
    api = start_app(postgres.url(), **_oidc_env(rotating.url))
    user_id, token = _user(rotating.keys[0])
    assert _write(api, token, user_id).status_code == 201
    assert rotating.fetches == 1, "fetched once at start-up"
    rotated = SigningKey.ec("after-rotation")
    rotating.keys.append(rotated)
    user_id, token = _user(rotated)
    assert _write(api, token, user_id).status_code == 201
    assert rotating.fetches == 2
    for _ in range(10):
        forged = SigningKey.rsa()
        user_id, token = _user(forged)
        assert _write(api, token, user_id).status_code == 401
    assert rotating.fetches == 2, "unknown key ids fetch the set at most once per interval"


def test_without_the_issuers_keys_every_token_is_refused_with_503(postgres, start_app):
    unreachable = JwksServer([RSA_KEY]).start()
    unreachable.status = 500
    try:
        api = start_app(postgres.url(), **_oidc_env(unreachable.url))
        user_id, token = _user()
        response = _write(api, token, user_id)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "auth_unavailable"
        assert response.headers["retry-after"]
        assert _stored(postgres, user_id) == 0
        assert httpx.get(f"{api.base_url}/livez").status_code == 200
    finally:
        unreachable.stop()
