"""POST /map needs a valid HS256 bearer token (the mode without an issuer's key set); every failure is a 401 that says
why and writes nothing, with the same strictness as issuer tokens: required sub, numeric exp, a maximum lifetime,
no repeated claims."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

import httpx
import jwt
import orjson
import pytest

from tests.app.issuer import b64
from tests.conftest import TOKEN_AUDIENCE, TOKEN_ISSUER, TOKEN_SECRET, mint_token


def _unsigned(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _signed(payload: bytes, **header) -> str:
    """An HS256 token over the payload exactly as given, signed with the stack's key."""
    signing_input = f"{b64(orjson.dumps({'alg': 'HS256', 'typ': 'JWT', **header}))}.{b64(payload)}"
    signature = hmac.new(TOKEN_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def _repeated(name: str, first: object, second: object) -> str:
    """A token whose payload carries one claim twice: JSON parsers that keep the last value see only `second`."""
    claims = _claims(sub="tests")
    claims.pop(name, None)
    both = f'"{name}":{orjson.dumps(first).decode()},"{name}":{orjson.dumps(second).decode()}'
    return _signed(orjson.dumps(claims)[:-1] + f",{both}}}".encode())


def _raw_claim(name: str, raw_json: bytes) -> str:
    """A signed token whose payload carries `name` as the JSON text given (which no encoder would write)."""
    claims = _claims(sub="tests")
    claims.pop(name, None)
    return _signed(orjson.dumps(claims)[:-1] + b',"' + name.encode() + b'":' + raw_json + b"}")


def _claims(**overrides) -> dict:
    claims = {"iss": TOKEN_ISSUER, "aud": TOKEN_AUDIENCE, "exp": int(time.time()) + 300}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


LONE_SURROGATE = rb'"\ud800x"'
"""A JSON string whose escape is half of a surrogate pair: valid JSON syntax, not text."""
BAD_HEADERS = [
    ("missing", None, "missing"),
    ("wrong scheme", f"Basic {mint_token()}", "Bearer"),
    ("bearer without a token", "Bearer", "Bearer"),
    ("garbage", "Bearer not.a.token", "malformed"),
    ("expired", f"Bearer {mint_token(ttl=-60)}", "expired"),
    ("wrong signature", f"Bearer {mint_token(secret='another-secret-' + 'y' * 32)}", "signature"),
    ("alg none", f"Bearer {_unsigned(_claims())}", "algorithm"),
    ("HS512", f"Bearer {jwt.encode(_claims(), TOKEN_SECRET, algorithm='HS512')}", "algorithm"),
    ("wrong issuer", f"Bearer {mint_token(iss='someone-else')}", "issuer"),
    ("wrong audience", f"Bearer {mint_token(aud='other-api')}", "audience"),
    ("no expiry", f"Bearer {jwt.encode(_claims(exp=None), TOKEN_SECRET, algorithm='HS256')}", "exp"),
    ("exp as a string", f"Bearer {_signed(orjson.dumps(_claims(sub='t', exp=str(int(time.time()) + 300))))}", "number"),
    ("exp a century ahead", f"Bearer {mint_token(ttl=100 * 365 * 86400)}", "lifetime exceeds the maximum"),
    ("iat to exp beyond the maximum", f"Bearer {mint_token(iat=int(time.time()) - 86400)}", "lifetime exceeds"),
    ("nbf in the future", f"Bearer {mint_token(nbf=int(time.time()) + 600)}", "not valid yet"),
    ("iat in the future", f"Bearer {mint_token(iat=int(time.time()) + 600)}", "issued in the future"),
    ("no sub", f"Bearer {mint_token(sub=None)}", "lacks the 'sub' claim"),
    ("empty sub", f"Bearer {mint_token(sub='')}", "'sub' must be a non-empty string"),
    ("sub a number", f"Bearer {mint_token(sub=7)}", "'sub' must be a non-empty string"),
    ("sub twice", f"Bearer {_repeated('sub', 'tests', 'victim')}", "repeats the claim 'sub'"),
    ("exp twice", f"Bearer {_repeated('exp', 1, int(time.time()) + 300)}", "repeats the claim 'exp'"),
    ("scope twice", f"Bearer {_repeated('scope', '', 'map/admin')}", "repeats the claim 'scope'"),
    ("jku header", f"Bearer {_signed(orjson.dumps(_claims(sub='t')), jku='http://127.0.0.1:9/keys')}", "'jku'"),
    ("payload not an object", f"Bearer {_signed(b'[1]')}", "malformed"),
    # Signed, so only the issuer (or a client it trusts) could send these; still a 401, never a 500.
    ("sub an unpaired surrogate", f"Bearer {_raw_claim('sub', LONE_SURROGATE)}", "malformed"),
    ("nbf beyond any double", f"Bearer {_raw_claim('nbf', b'1' + b'0' * 400)}", "'nbf' must be a number"),
    ("exp of 5,000 digits", f"Bearer {_raw_claim('exp', b'9' * 5000)}", "malformed"),
]


@pytest.mark.parametrize(("name", "authorization", "reason"), BAD_HEADERS, ids=[case[0] for case in BAD_HEADERS])
def test_bad_credentials_get_401_and_write_nothing(api, postgres, name, authorization, reason):
    user_id = f"auth-{uuid.uuid4()}"
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.post(f"{api.base_url}/map", json={"user_id": user_id, "practice": {}}, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert reason in error["message"]
    assert _stored(postgres, user_id) == 0


def test_a_future_nbf_is_not_called_malformed(api):
    token = mint_token(nbf=int(time.time()) + 600)
    response = httpx.get(f"{api.base_url}/map/tests", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "malformed" not in response.json()["error"]["message"]


def _stored(postgres, user_id: str) -> int:
    """Rows stored for the user; none when the first requests of a session beat the schema migration."""
    if postgres.query("SELECT to_regclass('user_practice')") == [(None,)]:
        return 0
    return postgres.query("SELECT count(*) FROM user_practice WHERE user_id = %s", (user_id,))[0][0]


def test_valid_token_is_accepted(api):
    user_id = f"auth-ok-{uuid.uuid4()}"
    response = httpx.post(
        f"{api.base_url}/map",
        json={"user_id": user_id, "practice": {}},
        headers={"Authorization": f"Bearer {mint_token(sub=user_id)}"},
    )
    assert response.status_code == 201


def test_public_endpoints_need_no_token(api):
    assert httpx.get(f"{api.base_url}/livez").status_code == 200
    assert httpx.get(f"{api.base_url}/heartbeat").status_code == 200


def test_tokens_and_secrets_never_reach_the_log(api, postgres):
    token = mint_token()
    for marker, authorization in (("secret-ok", f"Bearer {token}"), ("secret-bad", "Bearer x.y.z")):
        httpx.post(
            f"{api.base_url}/map",
            json={"user_id": "log-secret", "practice": {}},
            headers={"Authorization": authorization, "X-Request-ID": f"{marker}-{api.path}"},
        )
        api.log_entry(f"{marker}-{api.path}")  # both requests are in the log before it is searched
    log = api.log.read_text()
    for secret in (token, TOKEN_SECRET, postgres.app_password, "x.y.z"):
        assert secret not in log


NEXT_SECRET = "next-signing-secret-" + "n" * 32
PREVIOUS_SECRET = "previous-signing-secret-" + "p" * 32


@pytest.fixture(scope="module")
def rotating_api(postgres, start_app):
    """The API holding the cloud secret's three keys, as during a rotation."""
    return start_app(postgres.url(), WORKERS="1", JWT_SECRET_NEXT=NEXT_SECRET, JWT_SECRET_PREVIOUS=PREVIOUS_SECRET)


@pytest.mark.parametrize(
    ("key", "status"),
    [(TOKEN_SECRET, 201), (NEXT_SECRET, 201), (PREVIOUS_SECRET, 201), ("unrelated-signing-secret-" + "u" * 32, 401)],
    ids=["current", "next", "previous", "unrelated"],
)
def test_tokens_signed_with_any_of_the_key_set_are_accepted(rotating_api, postgres, key, status):
    user_id = f"rotation-{uuid.uuid4()}"
    response = httpx.post(
        f"{rotating_api.base_url}/map",
        json={"user_id": user_id, "practice": {}},
        headers={"Authorization": f"Bearer {mint_token(secret=key, sub=user_id)}"},
    )
    assert response.status_code == status, response.text
    stored = postgres.query("SELECT count(*) FROM user_practice WHERE user_id = %s", (user_id,))
    assert stored == [(1 if status == 201 else 0,)]
    if status == 401:
        assert response.json()["error"] == {"code": "unauthorized", "message": "token signature is invalid"}
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_key_set_never_reaches_the_log(rotating_api):
    log = rotating_api.log.read_text()
    for secret in (TOKEN_SECRET, NEXT_SECRET, PREVIOUS_SECRET):
        assert secret not in log
