"""A Cognito user pool in moto shaped as the identity component declares it, its token endpoint and its key set."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import moto.cognitoidp

from cli.local.moto_identity import TOKEN_PATH, client_credentials
from tests.app.issuer import JwksServer

SIGN_IN_SCOPE = "aws.cognito.signin.user.admin"


@dataclass
class Pool:
    region: str
    pool_id: str
    app_id: str
    machine_id: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"


def create_pool(idp, region: str) -> Pool:
    """The pool, the `map` resource server, a public SRP app client and a machine client (client credentials)."""
    pool = idp.create_user_pool(
        PoolName="gw-dev-id-users",
        Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireSymbols": True, "RequireNumbers": True}},
    )["UserPool"]["Id"]
    scopes = [{"ScopeName": n, "ScopeDescription": n} for n in ("read", "write", "admin")]
    idp.create_resource_server(UserPoolId=pool, Identifier="map", Name="groundwork API", Scopes=scopes)
    flows = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    app = idp.create_user_pool_client(UserPoolId=pool, ClientName="gw-dev-id-app", ExplicitAuthFlows=flows)
    app = app["UserPoolClient"]["ClientId"]
    machine = idp.create_user_pool_client(
        UserPoolId=pool,
        ClientName="gw-dev-id-machine",
        GenerateSecret=True,
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["map/read", "map/write", "map/admin"],
        AccessTokenValidity=15,
        TokenValidityUnits={"AccessToken": "minutes"},
    )["UserPoolClient"]["ClientId"]
    return Pool(region, pool, app, machine)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class TokenEndpoint:
    """POST /oauth2/token answered from moto's pools in this process, as the local moto server answers it."""

    def __init__(self) -> None:
        def app(environ, start_response):
            if environ.get("PATH_INFO") != TOKEN_PATH:
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [b""]
            import json

            status, body = client_credentials(environ)
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]

        self._server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{TOKEN_PATH}"

    def __enter__(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def moto_key_set() -> JwksServer:
    """moto's published key set, served as its server serves it at /{pool}/.well-known/jwks.json."""
    published = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-public.json.gz"
    server = JwksServer([])
    server.document = gzip.decompress(published.read_bytes())
    return server
