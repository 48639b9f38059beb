"""Access tokens from an identity provider: the client-credentials grant, and the users `infra token` makes."""

from __future__ import annotations

import base64
import json
import re
import secrets
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from cli.core.errors import ConfigError, OperationFailed

USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
"""User names `infra token --user` creates: letters, digits and . _ @ + - (Cognito allows more; these need no care)."""
SMOKE_USER = "infra-smoke"
"""The user `infra smoke` signs in as for its ownership checks."""
READ_SCOPE, WRITE_SCOPE, ADMIN_SCOPE = "map/read", "map/write", "map/admin"
"""The API's scopes, without the issuer's prefix."""


def check_user_name(name: str) -> str:
    """The name, or a usage error naming what a user name may hold."""
    if not USER_NAME.fullmatch(name or ""):
        raise ConfigError(
            f"--user {name[:40]!r} is not a user name this command creates",
            hint="use 1 to 128 letters, digits and . _ @ + - starting with a letter or digit, e.g. --user alice",
        )
    return name


def new_password() -> str:
    """A random password any Cognito password policy accepts (upper and lower case, digits, a symbol, 36 long)."""
    return "Gw1!" + secrets.token_urlsafe(24)


def client_credentials(
    endpoint: str, client_id: str, client_secret: str, *, scopes: tuple[str, ...] = (), ca_file: str | None = None
) -> dict[str, Any]:
    """A machine token from an OAuth 2.0 token endpoint: `access_token`, `expires_in`, `token_type`, `scope`."""
    form = {"grant_type": "client_credentials", **({"scope": " ".join(scopes)} if scopes else {})}
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - an https:// endpoint from the stack's own outputs
        endpoint,
        data=urllib.parse.urlencode(form).encode(),
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as response:  # noqa: S310
            body = json.loads(response.read(65536))
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read(4096)).get("error", "")
        except ValueError:
            error = ""
        raise OperationFailed(
            f"the token endpoint refused the machine client: HTTP {exc.code} {error}".rstrip(),
            hint="check the stack's machine client (`infra outputs`) and the scopes asked for",
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OperationFailed(
            f"cannot reach the token endpoint ({type(reason).__name__})",
            hint="check the stack is up (`infra status` / `infra outputs`)",
        ) from None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise OperationFailed("the token endpoint answered without an access token", hint="check the issuer")
    return {
        "access_token": token,
        "expires_in": int(body.get("expires_in") or 0),
        "token_type": "Bearer",
        "scope": " ".join(scopes) if scopes else str(body.get("scope") or ""),
        "sub": client_id,
        "client_id": client_id,
    }
