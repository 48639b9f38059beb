"""The local user pool on moto's server: created from the plan, and the tokens `infra token` and `infra smoke` use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.core.errors import ConfigError, OperationFailed
from cli.core.tokens import check_user_name, client_credentials
from cli.local import adapters
from cli.local.identity_mapping import client_of
from cli.local.moto_identity import TOKEN_PATH

DOWN_HINT = "run `infra up --stack local` first"
CREATE_ONLY = ("PoolName", "UsernameConfiguration", "AliasAttributes", "UsernameAttributes")
"""Parameters of a pool that Cognito sets at creation only (UpdateUserPool does not take them)."""


def cognito_client(endpoint: str, ca_file: Path, region: str):
    """A boto3 cognito-idp client of the local moto server."""
    import boto3

    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        verify=str(ca_file),
        region_name=region,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any key; nothing real is reachable
    )


def apply(idp, spec: dict[str, Any]) -> None:
    """Create the pool, its resource servers and clients as declared, or bring existing ones to the declaration."""
    pool = spec["id"]
    existing = {p["Id"] for p in idp.list_user_pools(MaxResults=60).get("UserPools", [])}
    parameters = dict(spec["parameters"])
    if pool in existing:
        idp.update_user_pool(UserPoolId=pool, **{k: v for k, v in parameters.items() if k not in CREATE_ONLY})
    else:
        created = idp.create_user_pool(**parameters)["UserPool"]["Id"]
        if created != pool:
            raise OperationFailed(
                f"moto gave the user pool id {created}, not {pool}", hint="the local moto server is not this project's"
            )
    if spec["mfa"] != "OFF":
        idp.set_user_pool_mfa_config(
            UserPoolId=pool, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration=spec["mfa"]
        )
    servers = {s["Identifier"] for s in idp.list_resource_servers(UserPoolId=pool, MaxResults=50)["ResourceServers"]}
    for server in spec["resource_servers"]:
        call = idp.update_resource_server if server["Identifier"] in servers else idp.create_resource_server
        call(UserPoolId=pool, Identifier=server["Identifier"], Name=server["Name"], Scopes=server["Scopes"])
    clients = {c["ClientId"] for c in idp.list_user_pool_clients(UserPoolId=pool, MaxResults=60)["UserPoolClients"]}
    for client in spec["clients"]:
        parameters = dict(client["parameters"])
        if client["id"] in clients:
            parameters.pop("GenerateSecret", None)
            idp.update_user_pool_client(UserPoolId=pool, ClientId=client["id"], **parameters)
        else:
            idp.create_user_pool_client(UserPoolId=pool, **parameters)


@dataclass
class LocalIdentity:
    """The local pool's tokens: users signed in through the app client, machine tokens through the machine client."""

    spec: dict[str, Any]
    endpoint: str
    ca_file: Path
    passwords: Callable[[str], str] = field(repr=False)
    """The kept password of a user, made and stored the first time it is asked for."""

    def _idp(self):
        return cognito_client(self.endpoint, self.ca_file, self.spec["region"])

    def user_token(self, name: str) -> dict[str, Any]:
        """An access token of the user, created in the pool first if it is not there (moto forgets on restart)."""
        from botocore.exceptions import ClientError, EndpointConnectionError

        check_user_name(name)
        app = client_of(self.spec, "app")
        if app is None:
            raise ConfigError("the local user pool has no app client", hint="check the identity component")
        idp, pool = self._idp(), self.spec["id"]
        password = self.passwords(name)
        try:
            try:
                user = idp.admin_get_user(UserPoolId=pool, Username=name)
            except idp.exceptions.UserNotFoundException:
                # adapters.CONFIRMATION: users are created verified by the administrator, never through SignUp.
                idp.admin_create_user(UserPoolId=pool, Username=name, MessageAction="SUPPRESS")
                user = idp.admin_get_user(UserPoolId=pool, Username=name)
            idp.admin_set_user_password(UserPoolId=pool, Username=name, Password=password, Permanent=True)
            answer = idp.initiate_auth(
                ClientId=app["id"],
                AuthFlow=adapters.local_sign_in_flow(),
                AuthParameters={"USERNAME": name, "PASSWORD": password},
            )
        except EndpointConnectionError:
            raise ConfigError("the local stack's moto server is not running", hint=DOWN_HINT) from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise ConfigError(f"the local user pool refused: {code}", hint=DOWN_HINT) from None
        result = answer.get("AuthenticationResult")
        if not result:
            raise OperationFailed(
                f"signing {name} in needs {answer.get('ChallengeName')}", hint="set userPoolMfa to OPTIONAL or OFF"
            )
        sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
        return {
            "access_token": result["AccessToken"],
            "expires_in": int(result["ExpiresIn"]),
            "token_type": "Bearer",
            "sub": sub,
            "user": name,
        }

    def machine_token(self, scopes: tuple[str, ...] = ()) -> dict[str, Any]:
        """A client-credentials token of the machine client, with the scopes asked for (all it may have by default)."""
        from botocore.exceptions import ClientError, EndpointConnectionError

        machine = client_of(self.spec, "machine")
        if machine is None:
            raise ConfigError("the local user pool has no machine client", hint="check the identity component")
        try:
            described = self._idp().describe_user_pool_client(UserPoolId=self.spec["id"], ClientId=machine["id"])
        except (EndpointConnectionError, ClientError):
            raise ConfigError("the local user pool is not there", hint=DOWN_HINT) from None
        secret = described["UserPoolClient"]["ClientSecret"]
        return client_credentials(
            self.endpoint + TOKEN_PATH, machine["id"], secret, scopes=scopes, ca_file=str(self.ca_file)
        )


def identity_outputs(
    spec: dict[str, Any] | None, exports: dict[str, Any], endpoint: str
) -> dict[str, tuple[Any, bool]]:
    """The outputs about tokens, naming the local pool: its issuer, key set, clients and token endpoint."""
    from cli.local.identity_mapping import local_names
    from stacks import outputs as names

    def local(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        for made_up, real in local_names(spec).items():
            value = value.replace(made_up, real)
        return value

    values = {name: local(exports.get(name)) for name in (names.JWT_ISSUER, names.JWT_AUDIENCE, names.JWKS_URL)}
    if spec:
        app, machine = client_of(spec, "app"), client_of(spec, "machine")
        values.update(
            {
                names.JWKS_URL: f"{endpoint}/{spec['id']}/.well-known/jwks.json",
                names.USER_POOL_ID: spec["id"],
                names.APP_CLIENT_ID: app["id"] if app else None,
                names.MACHINE_CLIENT_ID: machine["id"] if machine else None,
                names.TOKEN_ENDPOINT: endpoint + TOKEN_PATH if machine else None,
            }
        )
    return {name: (value, False) for name, value in values.items()}
