"""Authorization checks with the identity provider's tokens: a user keeps to its own record, scopes are required."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cli.smoke.backend_checks import BackendProbe, _path, _Stop
from cli.smoke.preflight import FAIL, PASS, SKIP, Check

NAMES = ("own_record", "other_write", "other_read", "scope")
"""The checks this module adds, in the order they run."""


@dataclass(frozen=True)
class AccessTokens:
    """Tokens from the stack's identity provider for the authorization checks; never shown."""

    user_token: str | None = field(repr=False)
    """An access token of a signed-in user (no admin scope); None skips the ownership checks."""
    user_sub: str
    """That user's subject: the one record it may act on."""
    limited_token: str | None = field(default=None, repr=False)
    """A machine token with the read scope only, which may not write."""
    limited_sub: str = ""
    """Its subject (the machine client's id)."""
    hint: str = ""
    """Why a token is missing, when one is."""


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _code(body: bytes) -> str:
    doc = _json(body)
    error = doc.get("error") if isinstance(doc, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


async def own_record(user: BackendProbe, sub: str) -> Check:
    """The user writes its own record and reads it back."""
    version, _ = await user.write("own_record", sub)
    response, _, took = await user.send("own_record", "GET", _path(sub))
    doc = _json(response.body)
    if response.status != 200 or not isinstance(doc, dict) or doc.get("version") != version:
        return user.outcome("own_record", FAIL, f"reading its own record answered {user.snippet(response)}", took)
    return Check("own_record", PASS, f"a user wrote and read its own record (version {version})", took)


async def other_write(admin: BackendProbe, user: BackendProbe, other: str) -> Check:
    """A user's write to another user's record is refused with 403, and the record is left as it was."""
    name = "other_write"
    version, _ = await admin.write(name, other)
    body = {"user_id": other, "practice": {"check": "infra smoke", "step": "a write that must be refused"}}
    response, _, took = await user.send(name, "POST", "/map", body)
    if response.status != 403:
        return user.outcome(name, FAIL, f"a user's write to another user's record answered {user.snippet(response)}")
    after, _, _ = await admin.send(name, "GET", _path(other))
    doc = _json(after.body)
    if after.status != 200 or not isinstance(doc, dict) or doc.get("version") != version:
        return admin.outcome(name, FAIL, f"the refused write changed the record: {admin.snippet(after)}")
    return Check(name, PASS, f"a user's write to another user's record: 403 {_code(response.body)}, unchanged", took)


async def other_read(user: BackendProbe, other: str) -> Check:
    """A user can read neither another user's record nor its summary."""
    answers = []
    for suffix in ("", "/summary"):
        response, _, took = await user.send("other_read", "GET", _path(other, suffix))
        if response.status != 403:
            path = f"GET /map/{{other}}{suffix}"
            return user.outcome("other_read", FAIL, f"{path} with a user's token answered {user.snippet(response)}")
        answers.append(f"403 {_code(response.body)}")
    return Check("other_read", PASS, f"another user's record and summary: {', '.join(answers)}", took)


async def scope(limited: BackendProbe, sub: str) -> Check:
    """A token without the write scope cannot write, not even the record of its own subject."""
    response, _, took = await limited.send("scope", "POST", "/map", {"user_id": sub, "practice": {"check": "scope"}})
    if response.status != 403 or _code(response.body) != "insufficient_scope":
        return limited.outcome("scope", FAIL, f"a write with the read scope only answered {limited.snippet(response)}")
    return Check("scope", PASS, "a write with the read scope only: 403 insufficient_scope", took)


async def run_access_checks(
    admin: BackendProbe, access: AccessTokens | None, *, writes: bool, into: list[Check]
) -> None:
    """The four checks, appended to `into`; none without the identity provider's tokens (a --url or --token run),
    skipped (with the reason) in a read-only run or without a user's token."""
    if access is None:
        return
    if not writes:
        into += [Check(n, SKIP, "a read-only run makes no writes") for n in NAMES]
        return
    other = f"smoke-{admin.run_id}-other"
    user = BackendProbe(admin.where, admin.prefix, access.user_token, admin.run_id, admin.timeout_s)
    steps = []
    if access.user_token:
        steps = [lambda: own_record(user, access.user_sub), lambda: other_write(admin, user, other)]
        steps.append(lambda: other_read(user, other))
    else:
        into += [Check(n, SKIP, access.hint or "no token of a signed-in user") for n in NAMES[:3]]
    limited = None
    if access.limited_token:
        limited = BackendProbe(admin.where, admin.prefix, access.limited_token, admin.run_id, admin.timeout_s)
        steps.append(lambda: scope(limited, access.limited_sub))  # type: ignore[arg-type]
    try:
        for step in steps:
            try:
                into.append(await step())
            except _Stop as stop:
                into.append(stop.check)
        if limited is None:
            into.append(Check("scope", SKIP, access.hint or "no token with the read scope only"))
    finally:
        user.close()
        if limited is not None:
            limited.close()
        admin.sent += user.sent + (limited.sent if limited else 0)
