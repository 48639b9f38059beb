"""The local user pool: the plan's pool as Cognito API calls, moto patched to keep its ids, the token endpoint, and
the adapters that point the API at it. moto runs in this process (mock_aws); the whole stack: test_local_stack.py."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import jwt
import pytest
from moto import mock_aws

from cli.local import adapters, identity_mapping, mapping, moto_identity, pool_ids
from cli.local.identity import apply
from tests.cli.cognito_pool import TokenEndpoint, moto_key_set
from tests.mocks import recorded

REGION = "us-east-1"


@pytest.fixture(scope="module")
def spec() -> dict:
    """The local stack's own plan, as the local stack maps it."""
    return mapping.spec(recorded("local"))["identity"]


@pytest.fixture
def idp(monkeypatch):
    """moto's cognito-idp in this process, with the local server's id patches (undone afterwards)."""
    from moto.cognitoidp import models, responses

    for name, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(models, "generate_id", models.generate_id)
    monkeypatch.setattr(models.CognitoIdpUser, "__init__", models.CognitoIdpUser.__init__)
    monkeypatch.setattr(responses.CognitoIdpResponse, "update_resource_server", None, raising=False)
    moto_identity.patch_ids()
    moto_identity.patch_resource_servers()
    with mock_aws():
        yield boto3.client("cognito-idp", region_name=REGION)


def test_the_plan_maps_to_one_pool_with_an_app_and_a_machine_client(spec):
    assert spec["id"] == pool_ids.pool_id(REGION, spec["name"])
    assert spec["name"].endswith("-id-users")
    parameters = spec["parameters"]
    assert parameters["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert parameters["UserAttributeUpdateSettings"] == {"AttributesRequireVerificationBeforeUpdate": ["email"]}
    assert parameters["DeletionProtection"] == "INACTIVE", "Pulumi.local.yaml: protect false"
    kinds = {c["kind"]: c for c in spec["clients"]}
    assert set(kinds) == {"app", "machine"}
    assert kinds["app"]["parameters"]["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert kinds["machine"]["parameters"]["AllowedOAuthScopes"] == ["map/read", "map/write", "map/admin"]
    assert kinds["machine"]["id"] == pool_ids.client_id(spec["id"], kinds["machine"]["name"])
    (server,) = spec["resource_servers"]
    assert (server["Identifier"], [s["ScopeName"] for s in server["Scopes"]]) == ("map", ["read", "write", "admin"])
    names = identity_mapping.local_names(spec)
    assert names[spec["mock_id"]] == spec["id"]
    assert mapping.REALISED[identity_mapping.POOL].startswith("s3 (moto)")


def test_a_client_of_another_pool_is_refused(spec):
    rec = recorded("local")
    by_type: dict[str, list] = {}
    for r in rec.resources:
        by_type.setdefault(r.type, []).append(r)
    by_type[identity_mapping.POOL] = []
    with pytest.raises(identity_mapping.IdentityMappingError, match="its user pool is not one of the program's"):
        identity_mapping.identity(by_type, REGION)


def test_the_pool_is_created_under_its_derived_ids_and_applied_again_in_place(idp, spec):
    apply(idp, spec)
    fewer = {
        **spec,
        "resource_servers": [{**spec["resource_servers"][0], "Scopes": spec["resource_servers"][0]["Scopes"][:2]}],
    }
    apply(idp, fewer)
    assert len(idp.describe_resource_server(UserPoolId=spec["id"], Identifier="map")["ResourceServer"]["Scopes"]) == 2
    apply(idp, spec)
    (pool,) = idp.list_user_pools(MaxResults=10)["UserPools"]
    assert pool["Id"] == spec["id"]
    clients = {
        c["ClientName"]: c["ClientId"] for c in idp.list_user_pool_clients(UserPoolId=spec["id"])["UserPoolClients"]
    }
    assert clients == {c["name"]: c["id"] for c in spec["clients"]}
    described = idp.describe_user_pool(UserPoolId=spec["id"])["UserPool"]
    assert described["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert described["MfaConfiguration"] == "OPTIONAL"


def test_a_user_made_again_keeps_its_subject(idp, spec):
    apply(idp, spec)

    def sub() -> str:
        attributes = idp.admin_get_user(UserPoolId=spec["id"], Username="alice")["UserAttributes"]
        return next(a["Value"] for a in attributes if a["Name"] == "sub")

    idp.admin_create_user(UserPoolId=spec["id"], Username="alice", MessageAction="SUPPRESS")
    first = sub()
    idp.admin_delete_user(UserPoolId=spec["id"], Username="alice")
    idp.admin_create_user(UserPoolId=spec["id"], Username="alice", MessageAction="SUPPRESS")
    assert sub() == first == pool_ids.user_sub(spec["id"], "alice")
    assert pool_ids.user_sub(spec["id"], "bob") != first


def _ask(url: str, form: str, basic: tuple[str, str] | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(basic).encode()).decode()
    request = urllib.request.Request(url, data=form.encode(), headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the test's own loopback server
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_token_endpoint_grants_the_machine_client_only_what_it_may_have(idp, spec):
    apply(idp, spec)
    machine = identity_mapping.client_of(spec, "machine")
    app = identity_mapping.client_of(spec, "app")
    secret = idp.describe_user_pool_client(UserPoolId=spec["id"], ClientId=machine["id"])["UserPoolClient"]
    secret = secret["ClientSecret"]
    keys = moto_key_set().start()
    try:
        with TokenEndpoint() as endpoint:
            grant = "grant_type=client_credentials"
            assert _ask(endpoint.url, grant, (machine["id"], "wrong")) == (401, {"error": "invalid_client"})
            assert _ask(endpoint.url, grant, (app["id"], "")) == (401, {"error": "invalid_client"})
            assert _ask(endpoint.url, "grant_type=password", (machine["id"], secret))[1]["error"] == (
                "unsupported_grant_type"
            )
            refused = _ask(endpoint.url, grant + "&scope=map/read+other/scope", (machine["id"], secret))
            assert refused == (400, {"error": "invalid_scope"})
            status, body = _ask(endpoint.url, grant + "&scope=map/read", (machine["id"], secret))
            assert (status, body["token_type"], body["expires_in"]) == (200, "Bearer", 900)
            every = _ask(endpoint.url, grant, (machine["id"], secret))[1]
        key = jwt.PyJWKClient(keys.url).get_signing_key_from_jwt(body["access_token"])
        claims = jwt.decode(
            body["access_token"],
            key.key,
            algorithms=["RS256"],
            issuer=f"https://cognito-idp.{REGION}.amazonaws.com/{spec['id']}",
        )
        assert (claims["sub"], claims["client_id"], claims["token_use"]) == (machine["id"], machine["id"], "access")
        assert claims["scope"] == "map/read"
        assert claims["exp"] - claims["iat"] == 900
        assert jwt.decode(every["access_token"], options={"verify_signature": False})["scope"] == (
            "map/read map/write map/admin"
        )
    finally:
        keys.stop()


def test_the_adapters_point_the_api_at_the_local_pool(spec):
    machine = identity_mapping.client_of(spec, "machine")
    app = identity_mapping.client_of(spec, "app")
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{spec['mock_id']}"
    declared = {
        "JWT_ISSUER": issuer,
        "JWT_JWKS_URL": f"{issuer}/.well-known/jwks.json",
        "JWT_AUDIENCE": f"{app['mock_id']},{machine['mock_id']}",
        "JWT_USER_SCOPE": adapters.SIGN_IN_SCOPE,
        "JWT_MAX_LIFETIME": "900",
    }
    names = identity_mapping.local_names(spec)
    env = adapters.identity_environment(declared, spec, names, 4443, Path("/ca.pem"))
    assert env["JWT_ISSUER"] == f"https://cognito-idp.{REGION}.amazonaws.com/{spec['id']}", "moto writes this iss"
    assert env["JWT_JWKS_URL"] == f"https://127.0.0.1:4443/{spec['id']}/.well-known/jwks.json"
    assert env["JWT_AUDIENCE"] == f"{app['id']},{machine['id']}"
    assert env["SSL_CERT_FILE"] == "/ca.pem"
    assert env["JWT_MAX_LIFETIME"] == "3600", "moto's tokens live an hour"
    assert adapters.identity_environment({"PORT": "1"}, spec, names, 4443, Path("/ca.pem")) == {"PORT": "1"}
