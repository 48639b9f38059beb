"""Where the check goes and how it authenticates: a URL, or a cloud stack's outputs and signing secret."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cli.errors import ConfigError, CredentialsError, StackNotFound
from cli.smoke.token import mint_token

if TYPE_CHECKING:
    from cli.engine import StackOutput
    from cli.target import Target

HTTP_PORT = 80

SecretReader = Callable[[str, str | None], str]
"""Reads a Secrets Manager secret's string: (secret ARN, region) -> value."""


@dataclass(frozen=True)
class SmokeTarget:
    """The service's base URL, the bearer token for writes (never shown), and what to check on the way."""

    base_url: str
    token: str | None = field(repr=False)
    source: str
    redirect_port: int | None = None
    """Plain-HTTP port that must redirect to HTTPS; None skips the check."""
    ca_file: str | None = None
    """Extra trust anchors (PEM) for the TLS checks, e.g. a private CA."""

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.base_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def https(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"


def normalise_url(url: str) -> str:
    """An absolute http(s) URL without query, fragment or trailing slash; a usage error otherwise."""
    parts = urlsplit(url.strip())
    try:
        parts.port  # noqa: B018 (parsing the port validates it)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"{url!r} is not a service URL",
            hint="pass the service's base URL, e.g. --url https://api.dev.example.com",
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def from_url(url: str, *, token: str | None, expect_redirect: bool, ca_file: str | None = None) -> SmokeTarget:
    """A target given by URL; the plain-HTTP redirect is checked only when asked for."""
    base = normalise_url(url)
    if expect_redirect and not base.startswith("https://"):
        raise ConfigError("--expect-redirect needs an https:// URL", hint="drop --expect-redirect or use https")
    return SmokeTarget(base, token, "url", HTTP_PORT if expect_redirect else None, ca_file)


def read_secret(arn: str, region: str | None) -> str:
    """The secret string behind an ARN, read with the caller's AWS credentials."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        client = boto3.client("secretsmanager", region_name=region)
        return client.get_secret_value(SecretId=arn)["SecretString"]
    except NoCredentialsError:
        raise CredentialsError(
            "no AWS credentials to read the stack's signing secret",
            hint="sign in (aws sso login or AWS_PROFILE), or pass --token",
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        message = f"cannot read the stack's signing secret from Secrets Manager: {code}"
        if "Denied" in code or "Token" in code or "Signature" in code:
            raise CredentialsError(
                message, hint="check that your AWS identity may call secretsmanager:GetSecretValue, or pass --token"
            ) from None
        raise ConfigError(message, hint="check the stack is deployed (`infra outputs`), or pass --token") from None
    except BotoCoreError as exc:
        raise ConfigError(
            f"cannot reach Secrets Manager: {exc}", hint="check the network and region, or pass --token"
        ) from None


def signing_key(secret_string: str) -> str:
    """The key issuers sign with: "current" of the stack's key set, or the whole value of a single-key secret."""
    try:
        keys = json.loads(secret_string)
    except ValueError:
        return secret_string
    if not isinstance(keys, dict):
        return secret_string
    current = keys.get("current")
    if not isinstance(current, str) or not current:
        raise ConfigError(
            'the stack\'s signing secret has no "current" key',
            hint="check the secret's rotation (its value must hold previous, current and next), or pass --token",
        )
    return current


def _value(outputs: Mapping[str, StackOutput], name: str, stack: str) -> Any:
    item = outputs.get(name)
    if item is None or item.value in (None, ""):
        raise StackNotFound(
            f"stack {stack!r} has no {name!r} output",
            hint=f"deploy it first with `infra up --stack {stack}`, or use --url",
        )
    return item.value


def from_stack(
    target: Target,
    outputs: Mapping[str, StackOutput],
    *,
    token: str | None,
    ca_file: str | None = None,
    reader: SecretReader = read_secret,
) -> SmokeTarget:
    """The stack's service URL, and a token minted from its signing secret with its issuer and audience."""
    from stacks import outputs as names

    url = normalise_url(str(_value(outputs, names.SERVICE_URL, target.stack)))
    if token is None:
        arn = str(_value(outputs, names.JWT_SECRET_ARN, target.stack))
        region_output = outputs.get(names.REGION)
        region = str(region_output.value) if region_output and region_output.value else target.region
        secret = signing_key(reader(arn, region))
        settings = target.settings
        token = mint_token(secret, issuer=settings.issuer, audience=settings.jwt_audience)
    # The stack's load balancer always answers plain HTTP with a redirect to HTTPS (infra/loadbalancer.py).
    redirect_port = HTTP_PORT if url.startswith("https://") else None
    return SmokeTarget(url, token, f"stack {target.stack}", redirect_port, ca_file)
