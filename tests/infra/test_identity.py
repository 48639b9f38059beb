"""The identity component under the strict mock: the pool's secure defaults, the two clients, the scopes, the domain."""

from __future__ import annotations

from typing import Any

import pytest

from infra.identity import APP_AUTH_FLOWS, Identity, IdentityArgs
from tests.mocks import run, settings_for

POOL = "aws:cognito/userPool:UserPool"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
SERVER = "aws:cognito/resourceServer:ResourceServer"
DOMAIN = "aws:cognito/userPoolDomain:UserPoolDomain"


def _record(**kw: Any) -> Any:
    def program(_: Any) -> dict:
        identity = Identity("gw-dev-id", IdentityArgs(region="eu-west-1", domain_prefix="gw-dev", **kw))
        return {"issuer": identity.issuer, "jwks": identity.jwks_url, "token": identity.token_endpoint}

    return run(settings_for("dev"), program)


def _clients(rec: Any) -> dict[str, Any]:
    return {r.name.rsplit("-", 1)[1]: r for r in rec.of_type(CLIENT)}


def test_the_pool_has_secure_defaults() -> None:
    rec = _record()
    pool = rec.one(POOL)
    policy = pool["passwordPolicy"]
    assert policy["minimumLength"] == 12, pool.urn
    assert all(policy[k] for k in ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols"))
    assert pool["autoVerifiedAttributes"] == ["email"], pool.urn
    assert pool["userAttributeUpdateSettings"]["attributesRequireVerificationBeforeUpdates"] == ["email"]
    assert pool["accountRecoverySetting"]["recoveryMechanisms"] == [{"name": "verified_email", "priority": 1}]
    assert pool["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True, "self sign-up is off by default"
    assert pool["mfaConfiguration"] == "OPTIONAL", pool.urn
    assert pool["softwareTokenMfaConfiguration"] == {"enabled": True}, pool.urn
    assert pool["deletionProtection"] == "ACTIVE", pool.urn
    assert pool.protect, pool.urn


def test_an_unprotected_stack_can_delete_its_pool_and_mfa_off_enrols_nothing() -> None:
    pool = _record(protect=False, mfa="OFF", self_sign_up=True).one(POOL)
    assert pool["deletionProtection"] == "INACTIVE", pool.urn
    assert not pool.protect
    assert pool["mfaConfiguration"] == "OFF"
    assert "softwareTokenMfaConfiguration" not in pool.inputs
    assert pool["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is False


def test_the_app_client_is_public_signs_in_with_srp_and_keeps_tokens_short() -> None:
    app = _clients(_record())["app"]
    assert app.get("generateSecret") is False, app.urn
    assert app["explicitAuthFlows"] == list(APP_AUTH_FLOWS), app.urn
    assert "ALLOW_USER_PASSWORD_AUTH" not in app["explicitAuthFlows"]
    assert app["preventUserExistenceErrors"] == "ENABLED", app.urn
    assert app["enableTokenRevocation"] is True, app.urn
    assert (app["accessTokenValidity"], app["idTokenValidity"], app["refreshTokenValidity"]) == (15, 15, 7)
    assert app["tokenValidityUnits"] == {"accessToken": "minutes", "idToken": "minutes", "refreshToken": "days"}
    assert not app.get("allowedOauthFlows"), "no OAuth flow: apps sign in with SRP"


def test_token_lives_follow_the_arguments() -> None:
    app = _clients(_record(access_token_minutes=5, id_token_minutes=60, refresh_token_days=30))["app"]
    assert (app["accessTokenValidity"], app["idTokenValidity"], app["refreshTokenValidity"]) == (5, 60, 30)


def test_the_machine_client_gets_the_api_scopes_by_client_credentials_only() -> None:
    rec = _record()
    machine = _clients(rec)["machine"]
    server = rec.one(SERVER)
    assert server["identifier"] == "map", server.urn
    assert {s["scopeName"] for s in server["scopes"]} == {"read", "write", "admin"}
    assert machine["generateSecret"] is True, machine.urn
    assert machine["allowedOauthFlows"] == ["client_credentials"], machine.urn
    assert machine["allowedOauthFlowsUserPoolClient"] is True
    assert sorted(machine["allowedOauthScopes"]) == ["map/admin", "map/read", "map/write"]
    assert machine["explicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"], "no user sign-in through this client"
    assert machine["accessTokenValidity"] == 15
    assert server.urn in machine.dependencies or server.urn in str(machine.property_dependencies)


def test_the_domain_is_unique_per_stack_and_the_outputs_name_the_pool() -> None:
    rec = _record()
    domain = rec.one(DOMAIN)
    assert domain["domain"].startswith("gw-dev-"), domain.urn
    assert len(domain["domain"]) == len("gw-dev-") + 8, domain.urn
    pool_id = rec.one(POOL).id
    assert rec.exports["issuer"] == f"https://cognito-idp.eu-west-1.amazonaws.com/{pool_id}"
    assert rec.exports["jwks"] == f"https://cognito-idp.eu-west-1.amazonaws.com/{pool_id}/.well-known/jwks.json"
    assert rec.exports["token"] == f"https://{domain['domain']}.auth.eu-west-1.amazoncognito.com/oauth2/token"


@pytest.mark.parametrize(
    ("field", "kw", "allowed"),
    [
        ("mfa", {"mfa": "SMS"}, "OFF, OPTIONAL, ON"),
        ("password_min_length", {"password_min_length": 6}, "8-99"),
        ("access_token_minutes", {"access_token_minutes": 2}, "5 to 1440"),
        ("id_token_minutes", {"id_token_minutes": 2000}, "5 to 1440"),
        ("refresh_token_days", {"refresh_token_days": 0}, "1-3650"),
        ("refresh_token_days", {"refresh_token_days": 1, "access_token_minutes": 1440}, "longer than"),
        ("domain_prefix", {"domain_prefix": "my-cognito-app"}, "without aws"),
        ("domain_prefix", {"domain_prefix": "Upper"}, "lowercase"),
    ],
)
def test_bad_arguments_name_the_field_and_what_is_allowed(field: str, kw: dict, allowed: str) -> None:
    args = {"region": "eu-west-1", "domain_prefix": "gw-dev", **kw}
    with pytest.raises(ValueError, match=field) as error:
        Identity("x", IdentityArgs(**args))
    assert allowed in str(error.value)
