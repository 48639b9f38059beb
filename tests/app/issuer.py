"""A test token issuer: RSA and EC keys made with cryptography, a JWKS server on loopback, and tokens of any shape."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool"
APP_CLIENT = "app-client-id"
MACHINE_CLIENT = "machine-client-id"
SCOPE_PREFIX = "groundwork/"
READ, WRITE, ADMIN = (SCOPE_PREFIX + name for name in ("map/read", "map/write", "map/admin"))
SIGN_IN_SCOPE = "aws.cognito.signin.user.admin"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class SigningKey:
    """A private key the issuer signs with, and its public half as a JWK."""

    kid: str
    algorithm: str
    private: object = field(repr=False)

    @classmethod
    def rsa(cls, kid: str | None = None, bits: int = 2048) -> SigningKey:
        return cls(kid or f"rsa-{uuid.uuid4().hex[:8]}", "RS256", rsa.generate_private_key(65537, bits))

    @classmethod
    def ec(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or f"ec-{uuid.uuid4().hex[:8]}", "ES256", ec.generate_private_key(ec.SECP256R1()))

    def jwk(self) -> dict:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        return {**algorithm.to_jwk(self.private.public_key(), as_dict=True), "kid": self.kid, "alg": self.algorithm}

    def sign(self, claims: dict | bytes, **header) -> str:
        """A token; `claims` as bytes is the payload exactly as given (to repeat a claim, say)."""
        payload = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
        head = {"alg": self.algorithm, "typ": "JWT", "kid": self.kid, **header}
        head = {k: v for k, v in head.items() if v is not None}
        signing_input = f"{b64(json.dumps(head).encode())}.{b64(payload)}".encode()
        signature = jwt.get_algorithm_by_name(self.algorithm).sign(signing_input, self.private)
        return f"{signing_input.decode()}.{b64(signature)}"


def access_claims(client: str = APP_CLIENT, scope: str | None = f"{READ} {WRITE}", **overrides) -> dict:
    """A Cognito access token's claims: client_id (no aud), token_use, space-separated scope."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": f"user-{uuid.uuid4()}",
        "client_id": client,
        "token_use": "access",
        "scope": scope,
        "iat": now,
        "auth_time": now,
        "exp": now + 900,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def machine_claims(**overrides) -> dict:
    """A Cognito client-credentials token: no user, so its sub is the client id."""
    return access_claims(client=MACHINE_CLIENT, scope=f"{READ} {WRITE} {ADMIN}", sub=MACHINE_CLIENT, **overrides)


class JwksServer:
    """Serves a key set on a free loopback port in a thread; counts the fetches; keys and answer can change."""

    def __init__(self, keys: list[SigningKey], path: str = "/.well-known/jwks.json"):
        self.keys = list(keys)
        self.path = path
        self.fetches = 0
        self.status = 200
        self.document: bytes | None = None
        """When set, served instead of the keys' set."""
        self.redirect_to: str | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.fetches += 1
                if server.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", server.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = server.document or json.dumps({"keys": [key.jwk() for key in server.keys]}).encode()
                self.send_response(server.status if self.path == server.path else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def start(self) -> JwksServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
