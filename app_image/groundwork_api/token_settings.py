"""The token settings: the issuer's key set (OIDC) or the stack's HS256 keys, and what every token must say."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

MIN_SECRET_BYTES = 32
LOOPBACK_HOSTS = ("localhost", "::1")
SECRET_NAMES = ("JWT_SECRET", "JWT_SECRET_NEXT", "JWT_SECRET_PREVIOUS")
_SCOPE_TEXT = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]*")
"""RFC 6749's scope characters: printable ASCII but space, quote and backslash."""


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_jwks_url(url: str, problems: list[str]) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname or parts.username is not None:
        problems.append(f"JWT_JWKS_URL={url[:200]!r} is not an address; allowed: https://host[:port]/path")
    elif parts.scheme == "http" and not is_loopback(parts.hostname):
        problems.append(
            f"JWT_JWKS_URL={url[:200]!r} uses http:// for a host that is not loopback; allowed: https://, or"
            " http:// for 127.0.0.1, ::1 or localhost only"
        )


def read_token_settings(read) -> dict:
    """The Settings fields about tokens, from a settings reader that collects problems."""
    problems = read.problems
    jwks_url = read.text("JWT_JWKS_URL", "")
    secrets = {name: read.env.get(name, "").strip() for name in SECRET_NAMES}
    if jwks_url:
        _check_jwks_url(jwks_url, problems)
        for name, value in secrets.items():
            if value:
                problems.append(
                    f"{name} is set with JWT_JWKS_URL; allowed: one of the two (tokens are verified against the"
                    " issuer's keys, never a shared secret, when JWT_JWKS_URL is set)"
                )
    else:
        if not secrets["JWT_SECRET"]:
            problems.append("JWT_SECRET is missing; it is required unless JWT_JWKS_URL names the issuer's key set")
        for name, value in secrets.items():
            if value and len(value.encode()) < MIN_SECRET_BYTES:
                problems.append(f"{name} is too short; allowed: at least {MIN_SECRET_BYTES} bytes")
    audiences = tuple(dict.fromkeys(a.strip() for a in read.text("JWT_AUDIENCE").split(",") if a.strip()))
    if read.env.get("JWT_AUDIENCE", "").strip() and not audiences:
        problems.append("JWT_AUDIENCE lists no value; allowed: comma-separated client ids or audiences")
    prefix = read.text("JWT_SCOPE_PREFIX", "")
    user_scope = read.text("JWT_USER_SCOPE", "")
    for name, value in (("JWT_SCOPE_PREFIX", prefix), ("JWT_USER_SCOPE", user_scope)):
        if not _SCOPE_TEXT.fullmatch(value):
            problems.append(
                f"{name}={value[:100]!r} has a character a scope cannot hold; allowed: printable ASCII without"
                " spaces, quotes or backslashes"
            )
    return {
        "jwt_jwks_url": jwks_url,
        "jwt_secret": secrets["JWT_SECRET"] if not jwks_url else "",
        "jwt_secret_next": secrets["JWT_SECRET_NEXT"] if not jwks_url else "",
        "jwt_secret_previous": secrets["JWT_SECRET_PREVIOUS"] if not jwks_url else "",
        "jwt_issuer": read.text("JWT_ISSUER"),
        "jwt_audience": audiences,
        "jwt_scope_prefix": prefix,
        "jwt_user_scope": user_scope,
        "jwt_leeway": read.number("JWT_LEEWAY", 5.0, 0, 300),
        "jwt_max_lifetime": read.number("JWT_MAX_LIFETIME", 86400.0, 60, 7 * 86400),
    }
