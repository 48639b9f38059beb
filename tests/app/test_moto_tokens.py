"""Access tokens exactly as moto's Cognito user pool issues them (the local stack's identity provider) are accepted
for the user's own record and refused for anyone else's; its ID tokens are refused."""

from __future__ import annotations

import gzip
import secrets
import uuid
from pathlib import Path

import boto3
import httpx
import moto.cognitoidp
import pytest
from moto import mock_aws

from tests.app.issuer import SIGN_IN_SCOPE, JwksServer

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def moto_pool(monkeypatch_module):
    """A user pool with an app client and two users, signed in with USER_PASSWORD_AUTH, as the local stack does."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch_module.setenv(name, value)
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name=REGION)
        pool = idp.create_user_pool(PoolName="groundwork-tests")["UserPool"]
        client = idp.create_user_pool_client(
            UserPoolId=pool["Id"], ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]
        tokens = {}
        for user in ("alice", "bob"):
            password = "Aa1!" + secrets.token_urlsafe(16)
            idp.admin_create_user(UserPoolId=pool["Id"], Username=user, MessageAction="SUPPRESS")
            idp.admin_set_user_password(UserPoolId=pool["Id"], Username=user, Password=password, Permanent=True)
            result = idp.initiate_auth(
                ClientId=client["ClientId"],
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": user, "PASSWORD": password},
            )["AuthenticationResult"]
            sub = next(
                a["Value"]
                for a in idp.admin_get_user(UserPoolId=pool["Id"], Username=user)["UserAttributes"]
                if a["Name"] == "sub"
            )
            tokens[user] = (sub, result["AccessToken"], result["IdToken"])
    return f"https://cognito-idp.{REGION}.amazonaws.com/{pool['Id']}", client["ClientId"], tokens


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def moto_jwks():
    """moto's published key set, served as its server serves it at /{pool}/.well-known/jwks.json."""
    published = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-public.json.gz"
    server = JwksServer([])
    server.document = gzip.decompress(published.read_bytes())
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def api(postgres, start_app, moto_pool, moto_jwks):
    issuer, client_id, _ = moto_pool
    return start_app(
        postgres.url(),
        WORKERS="1",
        JWT_SECRET="",
        JWT_JWKS_URL=moto_jwks.url,
        JWT_ISSUER=issuer,
        JWT_AUDIENCE=client_id,
        JWT_USER_SCOPE=SIGN_IN_SCOPE,
    )


def _headers(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_moto_user_writes_and_reads_only_their_own_record(api, moto_pool):
    _, _, tokens = moto_pool
    alice_sub, alice, _ = tokens["alice"]
    bob_sub, bob, _ = tokens["bob"]
    mine = httpx.post(f"{api.base_url}/map", json={"user_id": alice_sub, "practice": {}}, headers=_headers(alice))
    assert mine.status_code in (200, 201), mine.text
    assert httpx.get(f"{api.base_url}/map/{alice_sub}", headers=_headers(alice)).status_code == 200
    theirs = httpx.post(f"{api.base_url}/map", json={"user_id": bob_sub, "practice": {}}, headers=_headers(alice))
    assert theirs.status_code == 403
    assert httpx.get(f"{api.base_url}/map/{alice_sub}", headers=_headers(bob)).status_code == 403


def test_a_moto_id_token_is_not_an_access_token(api, moto_pool):
    _, _, tokens = moto_pool
    sub, _, id_token = tokens["alice"]
    response = httpx.get(f"{api.base_url}/map/{sub}", headers=_headers(id_token))
    assert response.status_code == 401
    assert "not an access token" in response.json()["error"]["message"]


def test_another_pools_client_is_refused(postgres, start_app, moto_pool, moto_jwks):
    issuer, _, tokens = moto_pool
    other = start_app(
        postgres.url(),
        WORKERS="1",
        JWT_SECRET="",
        JWT_JWKS_URL=moto_jwks.url,
        JWT_ISSUER=issuer,
        JWT_AUDIENCE=f"client-{uuid.uuid4()}",
        JWT_USER_SCOPE=SIGN_IN_SCOPE,
    )
    sub, access, _ = tokens["alice"]
    response = httpx.get(f"{other.base_url}/map/{sub}", headers=_headers(access))
    assert response.status_code == 401
    assert "client is not accepted" in response.json()["error"]["message"]
