"""What the API verifies tokens with: the stack's own Cognito user pool, or an OIDC issuer of the owner's own."""

from __future__ import annotations

import pulumi

from infra.identity import Identity
from infra.limits import COGNITO_SIGN_IN_SCOPE
from stacks.settings import StackSettings


def token_environment(s: StackSettings, identity: Identity | None) -> dict[str, pulumi.Input[str]]:
    """The API's JWT_* variables: the issuer, its key set, the clients tokens may be issued to, the scopes."""
    if identity is None:
        assert s.oidc_issuer is not None
        assert s.oidc_audience is not None
        environment: dict[str, pulumi.Input[str]] = {
            "JWT_ISSUER": s.oidc_issuer,
            "JWT_JWKS_URL": s.oidc_jwks_url or s.oidc_issuer.rstrip("/") + "/.well-known/jwks.json",
            "JWT_AUDIENCE": s.oidc_audience,
        }
        if s.oidc_scope_prefix:
            environment["JWT_SCOPE_PREFIX"] = s.oidc_scope_prefix
        if s.oidc_user_scope:
            environment["JWT_USER_SCOPE"] = s.oidc_user_scope
        return environment
    return {
        "JWT_ISSUER": identity.issuer,
        "JWT_JWKS_URL": identity.jwks_url,
        # Cognito access tokens carry client_id and no aud: the app's and the machine client's ids.
        "JWT_AUDIENCE": pulumi.Output.concat(identity.app_client_id, ",", identity.machine_client_id),
        # SRP and refresh sign-in give access tokens this scope only; it stands for the user's own record.
        "JWT_USER_SCOPE": COGNITO_SIGN_IN_SCOPE,
        # The pool issues access tokens for accessTokenMinutes: a token claiming a longer life is not its.
        "JWT_MAX_LIFETIME": str(s.access_token_minutes * 60),
    }


def token_outputs(s: StackSettings, identity: Identity | None) -> dict[str, pulumi.Input[str] | None]:
    """What clients need to get tokens: the issuer and, for the stack's own pool, its clients and token endpoint."""
    from stacks import outputs

    if identity is None:
        return {
            outputs.JWT_ISSUER: s.oidc_issuer,
            outputs.JWT_AUDIENCE: s.oidc_audience,
            outputs.JWKS_URL: token_environment(s, None)["JWT_JWKS_URL"],
            outputs.USER_POOL_ID: None,
            outputs.APP_CLIENT_ID: None,
            outputs.MACHINE_CLIENT_ID: None,
            outputs.TOKEN_ENDPOINT: None,
        }
    return {
        outputs.JWT_ISSUER: identity.issuer,
        outputs.JWT_AUDIENCE: pulumi.Output.concat(identity.app_client_id, ",", identity.machine_client_id),
        outputs.JWKS_URL: identity.jwks_url,
        outputs.USER_POOL_ID: identity.user_pool_id,
        outputs.APP_CLIENT_ID: identity.app_client_id,
        outputs.MACHINE_CLIENT_ID: identity.machine_client_id,
        outputs.TOKEN_ENDPOINT: identity.token_endpoint,
    }
