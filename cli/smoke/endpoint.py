"""Where the check goes and how it authenticates: a URL and a token, or a stack's outputs and its issuer's tokens."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cli.core.errors import ConfigError, StackNotFound
from cli.smoke.access import AccessTokens
from cli.smoke.burst import edge_outputs

if TYPE_CHECKING:
    from cli.core.outputs import StackOutput
    from cli.core.stack_ref import StackRef

HTTP_PORT = 80


@dataclass(frozen=True)
class ServiceEndpoint:
    """The service's base URL, the bearer token for writes (never shown), and what to check on the way.

    Both are checked when the target is made, whoever makes it: the URL must be a plain base URL with no credentials
    in it, and the token must be one a bearer header can carry.
    """

    base_url: str
    token: str | None = field(repr=False)
    source: str
    redirect_port: int | None = None
    """Plain-HTTP port that must redirect to HTTPS; None skips the check."""
    ca_file: str | None = None
    """Extra trust anchors (PEM) for the TLS checks, e.g. a private CA."""
    edge_outputs: Mapping[str, Any] = field(default_factory=dict)
    """The stack's outputs that describe the edge's per-client limit, read only by a burst check (so a malformed
    one does not stop a run that does not burst)."""
    access: AccessTokens | None = None
    """Tokens of the stack's identity provider for the authorization checks; None skips them."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", normalise_url(self.base_url))
        check_token(self.token)

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


URL_HINT = "pass the service's base URL, e.g. --url https://api.dev.example.com"
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)(?P<rest>[?#].*)?", re.S
)
_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_URL = 2048
MAX_TOKEN = 16384


def _refuse(problem: str, hint: str = URL_HINT) -> ConfigError:
    # The URL itself is never quoted back: whatever is wrong with it may be a credential.
    return ConfigError(f"the service URL {problem}", hint=hint)


def _host(authority: str) -> tuple[str, int | None]:
    """The host (an IPv6 address in brackets) and port of an authority without user info; a refusal otherwise."""
    if authority.startswith("["):
        end = authority.find("]")
        literal, rest = authority[1:end], authority[end + 1 :]
        if end < 0 or "%" in literal:
            raise _refuse("has an IPv6 address that is not closed by ] or carries a zone", "e.g. http://[::1]:8080")
        try:
            host = f"[{ipaddress.IPv6Address(literal).compressed}]"
        except ValueError:
            raise _refuse("has a bracketed host that is not an IPv6 address", "e.g. http://[::1]:8080") from None
        if rest and not rest.startswith(":"):
            raise _refuse("has characters after its IPv6 address", "e.g. http://[::1]:8080")
        port_text = rest[1:] if rest else None
    else:
        if authority.count(":") > 1:
            raise _refuse(
                "has more than one ':' in its host; an IPv6 address goes in brackets", "e.g. http://[::1]:8080"
            )
        host, sep, port_text = authority.partition(":")
        port_text = port_text if sep else None
        host = host.lower()
        if not host:
            raise _refuse("has no host name")
        labels = host.removesuffix(".").split(".")
        if labels[-1][:1].isdigit():
            try:
                host = str(ipaddress.IPv4Address(host))
            except ValueError:
                raise _refuse("has a host that looks like an IPv4 address but is not one (write a.b.c.d)") from None
        elif len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
            raise _refuse(
                "has a host that is not a DNS name (letters, digits and hyphens in dot-separated labels)",
                "write an internationalised name in its xn-- form",
            )
    if port_text is None:
        return host, None
    if not port_text.isdigit() or len(port_text) > 5 or not 1 <= int(port_text) <= 65535:
        shown = f"port {port_text}" if port_text.isdigit() and len(port_text) <= 12 else "a port that is not a number"
        raise _refuse(f"has {shown}; a port is a number from 1 to 65535")
    return host, int(port_text)


def normalise_url(url: str) -> str:
    """An absolute http(s) base URL, lower-case host, no trailing slash; a usage error (exit 2) otherwise.

    Refused: user info (`user:password@`, a bare `@`, or `%40` before the host), any query or fragment (tokens
    go in --token, never in a URL), backslashes, whitespace (blanks around the URL are dropped) or control
    characters, non-ASCII text, other schemes, malformed hosts and ports out of range. The message says what is
    wrong without quoting the URL.
    """
    url = url.strip(" \t\r\n")  # a URL pasted with surrounding blanks; any inside are refused below
    if len(url) > MAX_URL:
        raise _refuse(f"is longer than {MAX_URL} characters")
    if not url.isascii():
        raise _refuse("has non-ASCII characters", "write the host in its xn-- form and percent-encode the path")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise _refuse("has whitespace or control characters in it")
    if "\\" in url:
        raise _refuse("has a backslash in it")
    match = _URL.fullmatch(url)
    if match is None:
        raise _refuse("is not an absolute http:// or https:// URL")
    scheme, authority, path = match["scheme"].lower(), match["authority"], match["path"]
    if scheme not in ("http", "https"):
        shown = f" {scheme!r}" if len(scheme) <= 16 else ""
        raise _refuse(f"has scheme{shown}; only http and https are checked")
    if "@" in authority or "%40" in authority.lower():
        raise _refuse(
            "carries user info (credentials before an '@' in the host part); they would be sent, shown and logged",
            hint="remove them from the URL; the check's writes authenticate with --token (or INFRA_SMOKE_TOKEN)",
        )
    if "%" in authority:
        raise _refuse("has a percent-encoded host or port")
    if match["rest"] is not None:
        kind = "a query ('?...')" if match["rest"].startswith("?") else "a fragment ('#...')"
        raise _refuse(
            f"has {kind}; a base URL takes none",
            hint="pass only the base URL; a token goes in --token (or INFRA_SMOKE_TOKEN), never in a URL",
        )
    if not _PATH.fullmatch(path):
        raise _refuse("has a path with characters a URL path cannot carry unencoded ('%' must start %XX)")
    host, port = _host(authority)
    return f"{scheme}://{host}{'' if port is None else f':{port}'}{path.rstrip('/')}"


def check_token(token: str | None) -> None:
    """A usage error when the token cannot be a bearer token (RFC 6750); the token is never quoted back."""
    if token is None:
        return
    if len(token) > MAX_TOKEN or not _TOKEN.fullmatch(token):
        raise ConfigError(
            "the bearer token has characters a token cannot carry, or is over 16 KiB",
            hint="a bearer token is letters, digits and - . _ ~ + / (then any '='); check --token or INFRA_SMOKE_TOKEN",
        )


def from_url(url: str, *, token: str | None, expect_redirect: bool, ca_file: str | None = None) -> ServiceEndpoint:
    """A target given by URL; the plain-HTTP redirect is checked only when asked for."""
    base = normalise_url(url)
    if expect_redirect and not base.startswith("https://"):
        raise ConfigError("--expect-redirect needs an https:// URL", hint="drop --expect-redirect or use https")
    return ServiceEndpoint(base, token, "url", HTTP_PORT if expect_redirect else None, ca_file)


def _value(outputs: Mapping[str, StackOutput], name: str, stack: str) -> Any:
    item = outputs.get(name)
    if item is None or item.value in (None, ""):
        raise StackNotFound(
            f"stack {stack!r} has no {name!r} output",
            hint=f"deploy it first with `infra up --stack {stack}`, or use --url",
        )
    return item.value


def from_stack(
    target: StackRef,
    outputs: Mapping[str, StackOutput],
    *,
    token: str | None,
    ca_file: str | None = None,
    access: AccessTokens | None = None,
) -> ServiceEndpoint:
    """The stack's service URL with a token from its identity provider (the backend gets it) and the edge's outputs."""
    from stacks import outputs as names

    url = normalise_url(str(_value(outputs, names.SERVICE_URL, target.stack)))
    # The stack's load balancer always answers plain HTTP with a redirect to HTTPS (infra/loadbalancer.py).
    redirect_port = HTTP_PORT if url.startswith("https://") else None
    values = {name: item.value for name, item in outputs.items()}
    source = f"stack {target.stack}"
    return ServiceEndpoint(url, token, source, redirect_port, ca_file, edge_outputs(values), access)
