"""Who may do what: the route's scope, and a user's token acts only on its own record unless it is an admin's."""

from __future__ import annotations

from dataclasses import dataclass

from . import logs
from .errors import ApiError

READ = "map/read"
WRITE = "map/write"
ADMIN = "map/admin"
"""Scope names; the issuer may prefix them (Cognito: with the resource server's identifier)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """What a verified token speaks for."""

    subject: str
    """The token's `sub`: the user_id a user's token owns."""
    client_id: str
    """The client the token was issued to (`client_id`, `azp` or `cid`), else its subject; for audit lines."""
    admin: bool
    """Carries the admin scope: may act on any user_id, each access logged."""
    may_read: bool
    may_write: bool
    expires: float


def require_scope(principal: Principal, allowed: bool, scope: str) -> None:
    """A 403 insufficient_scope when the token lacks the scope the route needs (RFC 6750)."""
    if not allowed:
        raise ApiError(
            403,
            "insufficient_scope",
            f"token lacks the scope {scope!r} this route needs",
            headers={"WWW-Authenticate": f'Bearer realm="groundwork", error="insufficient_scope", scope="{scope}"'},
        )


def require_owner(principal: Principal, user_id: str, action: str, request_id: str | None) -> None:
    """Refuse a user's token acting on another user_id; log every admin access to another user's record.

    Decided from the token and the requested id alone, before anything is read or written, so the answer (403)
    is the same whether or not the other user has a record: it tells nothing about other users.
    """
    if user_id == principal.subject:
        return
    if principal.admin:
        logs.emit(
            "info",
            "admin access",
            always=True,
            client_id=principal.client_id,
            subject=principal.subject,
            action=action,
            user_id=user_id,
            request_id=request_id,
        )
        return
    raise ApiError(
        403,
        "forbidden",
        "this token may act only on the user_id equal to its subject ('sub'); other users need the admin scope",
        "user_id",
    )
