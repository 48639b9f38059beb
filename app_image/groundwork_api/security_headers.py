"""ASGI middleware: the security headers every answer carries, so they hold behind any proxy or none."""

from __future__ import annotations

HSTS = "max-age=63072000; includeSubDomains"
"""Two years, every subdomain: browsers come back over HTTPS only."""
CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""An API's policy: a response may load nothing and be framed by nothing (the /docs page needs nothing more)."""
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"strict-transport-security", HSTS.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"referrer-policy", b"no-referrer"),
)
"""Headers set on every response, in this spelling."""
_NAMES = frozenset(name for name, _ in HEADERS)
_AUTHORIZATION = b"authorization"
_CACHE_CONTROL = b"cache-control"
NO_STORE = b"no-store"
"""What an answer to an authenticated request says about caching: nobody keeps a copy."""


class SecurityHeadersMiddleware:
    """Replaces any handler-set value of the security headers with the service's, and marks answers to requests that
    carry credentials `Cache-Control: no-store` (a shared cache must never keep one user's record for another)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authenticated = any(name == _AUTHORIZATION for name, _ in scope["headers"])

        def send_with_headers(message):
            if message["type"] == "http.response.start":
                kept = [(n, v) for n, v in message.get("headers", ()) if n.lower() not in _NAMES]
                if authenticated:
                    kept = [(n, v) for n, v in kept if n.lower() != _CACHE_CONTROL]
                    kept.append((_CACHE_CONTROL, NO_STORE))
                message["headers"] = [*kept, *HEADERS]
            return send(message)

        await self.app(scope, receive, send_with_headers)


def server_error_headers() -> list[tuple[bytes, bytes]]:
    """The headers of an answer made outside the middleware (an unexpected error): never stored by anyone."""
    return [*HEADERS, (_CACHE_CONTROL, NO_STORE)]
