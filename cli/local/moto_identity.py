"""Inside the local moto server: pools keep their ids across restarts, and the token endpoint of Cognito's domain."""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from cli.local import pool_ids

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret
"""Where Cognito's domain grants client-credentials tokens; the local server answers it for every local pool."""
_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def patch_ids() -> None:
    """moto draws pool and client ids and users' subjects at random and keeps them in memory only: derive them from
    names (cli/local/pool_ids.py), so a restarted server recreates the pool under the ids the API was started with,
    and a user recreated by `infra token` keeps its subject, as in Cognito, and so its records."""
    from moto.cognitoidp import models

    def generate_id(strategy: str | None, *args: Any) -> str:
        first, second, configuration = args
        if isinstance(second, str):  # a user pool: (region, name, configuration)
            return pool_ids.pool_suffix(first, second)
        return pool_ids.client_id(first, (configuration or {}).get("ClientName") or "")  # a client: (pool id, ...)

    models.generate_id = generate_id  # type: ignore[assignment]
    original = models.CognitoIdpUser.__init__

    def user(self, user_pool_id: str, username: str | None, *args: Any, **kwargs: Any) -> None:
        original(self, user_pool_id, username, *args, **kwargs)
        self.id = pool_ids.user_sub(user_pool_id, self.username)
        self.update_attributes([{"Name": "sub", "Value": self.id}])

    models.CognitoIdpUser.__init__ = user  # type: ignore[method-assign]


def patch_resource_servers() -> None:
    """moto does not implement UpdateResourceServer: a resource server whose scopes or name the program changed is
    updated in place, as Cognito does (the names and scopes replaced, the identifier kept)."""
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.responses import ActionResult

    def update_resource_server(self) -> ActionResult:
        server = self.backend.describe_resource_server(self._get_param("UserPoolId"), self._get_param("Identifier"))
        server.name = self._get_param("Name")
        server.scopes = self._get_param("Scopes") or []
        return ActionResult({"ResourceServer": server.to_json()})

    CognitoIdpResponse.update_resource_server = update_resource_server  # type: ignore[attr-defined]


def patch_token_endpoint() -> None:
    """moto has no OAuth 2.0 token endpoint: answer POST /oauth2/token as a Cognito domain does for the client
    credentials grant (the client's secret, its allowed flows and scopes checked), signed with the pool's key."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    dispatch = DomainDispatcherApplication.__call__

    def call(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == TOKEN_PATH:
            status, body = client_credentials(environ)
            start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
            return [json.dumps(body).encode()]
        return dispatch(self, environ, start_response)

    DomainDispatcherApplication.__call__ = call  # type: ignore[method-assign]


def _error(status: str, error: str) -> tuple[str, dict[str, str]]:
    return status, {"error": error}


def _credentials(environ: dict[str, Any], form: dict[str, list[str]]) -> tuple[str, str]:
    header = environ.get("HTTP_AUTHORIZATION", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        return client_id, secret
    return form.get("client_id", [""])[0], form.get("client_secret", [""])[0]


def _find_client(client_id: str) -> tuple[Any, Any] | None:
    from moto.cognitoidp.models import cognitoidp_backends

    for account in cognitoidp_backends.values():
        for backend in account.values():
            for pool in backend.user_pools.values():
                if client_id in pool.clients:
                    return pool, pool.clients[client_id]
    return None


def client_credentials(environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(HTTP status line, JSON body) of a token request, as RFC 6749 section 4.4 and Cognito answer it."""
    if environ.get("REQUEST_METHOD") != "POST":
        return _error("405 Method Not Allowed", "invalid_request")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    form = parse_qs(environ["wsgi.input"].read(min(length, 16384)).decode("utf-8", "replace"))
    if form.get("grant_type", [""])[0] != "client_credentials":
        return _error("400 Bad Request", "unsupported_grant_type")
    client_id, secret = _credentials(environ, form)
    found = _find_client(client_id) if client_id else None
    if found is None or not found[1].generate_secret or found[1].secret != secret:
        return _error("401 Unauthorized", "invalid_client")
    pool, client = found
    config = client.extended_config
    if not config.get("AllowedOAuthFlowsUserPoolClient") or "client_credentials" not in config.get(
        "AllowedOAuthFlows", []
    ):
        return _error("400 Bad Request", "unauthorized_client")
    allowed = list(config.get("AllowedOAuthScopes") or [])
    asked = " ".join(form.get("scope", [])).split()
    if any(scope not in allowed for scope in asked):
        return _error("400 Bad Request", "invalid_scope")
    unit = (config.get("TokenValidityUnits") or {}).get("AccessToken", "hours")
    expires_in = int(config.get("AccessTokenValidity") or 1) * _UNITS.get(unit, 3600)
    now = int(time.time())
    claims = {
        "sub": client.id,
        "token_use": "access",
        "scope": " ".join(asked or allowed),
        "auth_time": now,
        "iss": f"https://cognito-idp.{pool.region}.amazonaws.com/{pool.id}",
        "exp": now + expires_in,
        "iat": now,
        "version": 2,
        "jti": str(uuid.uuid4()),
        "client_id": client.id,
    }
    from joserfc import jwt

    token = jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, pool.json_web_key)
    return "200 OK", {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}
