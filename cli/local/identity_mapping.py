"""The plan's user pool, resource servers and clients, as the Cognito API calls that create them in moto."""

from __future__ import annotations

from typing import Any

from cli.core import resource_types
from cli.local import pool_ids

POOL = resource_types.COGNITO_USER_POOL
CLIENT = resource_types.COGNITO_USER_POOL_CLIENT
SERVER = resource_types.COGNITO_RESOURCE_SERVER
DOMAIN = resource_types.COGNITO_USER_POOL_DOMAIN
REALISED = {
    POOL: "s3 (moto): a cognito-idp user pool, its id derived from its name",
    CLIENT: "s3 (moto): a user pool client, its id derived from its name",
    SERVER: "s3 (moto): the resource server and its scopes",
    DOMAIN: "s3 (moto): the token endpoint at /oauth2/token of the local moto server",
}
_POOL_KEYS = {
    "deletionProtection": "DeletionProtection",
    "mfaConfiguration": "MfaConfiguration",
    "autoVerifiedAttributes": "AutoVerifiedAttributes",
    "aliasAttributes": "AliasAttributes",
    "usernameAttributes": "UsernameAttributes",
    "accountRecoverySetting": "AccountRecoverySetting",
    "adminCreateUserConfig": "AdminCreateUserConfig",
    "usernameConfiguration": "UsernameConfiguration",
    "userAttributeUpdateSettings": "UserAttributeUpdateSettings",
}
"""Inputs of the pool with the CreateUserPool parameter each is (the password policy goes under Policies)."""
_CLIENT_KEYS = {
    "generateSecret": "GenerateSecret",
    "explicitAuthFlows": "ExplicitAuthFlows",
    "preventUserExistenceErrors": "PreventUserExistenceErrors",
    "enableTokenRevocation": "EnableTokenRevocation",
    "accessTokenValidity": "AccessTokenValidity",
    "idTokenValidity": "IdTokenValidity",
    "refreshTokenValidity": "RefreshTokenValidity",
    "tokenValidityUnits": "TokenValidityUnits",
    "authSessionValidity": "AuthSessionValidity",
    "allowedOauthFlowsUserPoolClient": "AllowedOAuthFlowsUserPoolClient",
    "allowedOauthFlows": "AllowedOAuthFlows",
    "allowedOauthScopes": "AllowedOAuthScopes",
    "supportedIdentityProviders": "SupportedIdentityProviders",
    "callbackUrls": "CallbackURLs",
    "logoutUrls": "LogoutURLs",
    "readAttributes": "ReadAttributes",
    "writeAttributes": "WriteAttributes",
}
"""Inputs of a client with the CreateUserPoolClient parameter each is."""


class IdentityMappingError(ValueError):
    """The plan declares user pools the local stack cannot realise faithfully; the message names the resource."""


_RENAMED = {"attributesRequireVerificationBeforeUpdates": "AttributesRequireVerificationBeforeUpdate"}
"""Nested inputs the provider names otherwise than the API."""


def _shape(value: Any) -> Any:
    """Pulumi's camelCase as the Cognito API's PascalCase (minimumLength -> MinimumLength), numbers as integers."""
    if isinstance(value, dict):
        return {_RENAMED.get(k, k[:1].upper() + k[1:]): _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def identity(by_type: dict[str, list[Any]], region: str) -> dict[str, Any] | None:
    """The one user pool with its resource servers and clients as API parameters, and the local id of each."""
    pools = by_type.get(POOL, [])
    if not pools:
        for token in (CLIENT, SERVER, DOMAIN):
            if by_type.get(token):
                raise IdentityMappingError(f"{by_type[token][0].urn}: its user pool is not one of the program's")
        return None
    if len(pools) > 1:
        raise IdentityMappingError(f"the local stack realises one user pool; the plan declares {len(pools)}")
    pool = pools[0]
    local_pool = pool_ids.pool_id(region, pool.name)
    inputs = pool.inputs
    config = {api: _shape(inputs[key]) for key, api in _POOL_KEYS.items() if key in inputs}
    if "passwordPolicy" in inputs:
        config["Policies"] = {"PasswordPolicy": _shape(inputs["passwordPolicy"])}
    servers, clients = [], []
    for server in by_type.get(SERVER, []):
        _same_pool(server, pool)
        servers.append(
            {
                "urn": server.urn,
                "Identifier": server.inputs["identifier"],
                "Name": server.inputs.get("name") or server.inputs["identifier"],
                "Scopes": _shape(server.inputs.get("scopes", [])),
            }
        )
    for client in by_type.get(CLIENT, []):
        _same_pool(client, pool)
        parameters = {api: _shape(client.inputs[key]) for key, api in _CLIENT_KEYS.items() if key in client.inputs}
        flows = parameters.get("AllowedOAuthFlows", [])
        clients.append(
            {
                "urn": client.urn,
                "name": client.name,
                "mock_id": client.id,
                "id": pool_ids.client_id(local_pool, client.name),
                "kind": "machine" if "client_credentials" in flows else "app",
                "parameters": {"ClientName": client.name, **parameters},
            }
        )
    for domain in by_type.get(DOMAIN, []):
        _same_pool(domain, pool)
    kinds = sorted(c["kind"] for c in clients)
    if kinds.count("app") > 1 or kinds.count("machine") > 1:
        raise IdentityMappingError(f"{pool.urn}: the local stack tells one app and one machine client apart")
    return {
        "urn": pool.urn,
        "name": pool.name,
        "region": region,
        "mock_id": pool.id,
        "id": local_pool,
        "mfa": inputs.get("mfaConfiguration", "OFF"),
        "parameters": {"PoolName": pool.name, **config},
        "resource_servers": servers,
        "clients": clients,
        "domains": [d.state.get("domain") or d.id for d in by_type.get(DOMAIN, [])],
    }


def _same_pool(resource: Any, pool: Any) -> None:
    if resource.inputs.get("userPoolId") != pool.id:
        raise IdentityMappingError(f"{resource.urn}: its user pool is not the program's {pool.urn}")


def local_names(spec: dict[str, Any] | None) -> dict[str, str]:
    """Each id the plan made up (the pool's, the clients') with the id the local moto server gives it."""
    if not spec:
        return {}
    names = {spec["mock_id"]: spec["id"]}
    names.update({client["mock_id"]: client["id"] for client in spec["clients"]})
    return names


def client_of(spec: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    """The app client or the machine client of the local pool, if it has one."""
    return next((c for c in (spec or {}).get("clients", []) if c["kind"] == kind), None)
