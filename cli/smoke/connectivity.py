"""The release gate: heartbeat, an authenticated write read back, and a bounded burst, against a new version."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REQUESTS = 10
REQUEST_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    """One check of the gate: its name, whether it passed, and what was seen."""

    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Verdict:
    """The gate's answer: every check, and the names of those that failed."""

    checks: list[Check] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    """Checks that could not run, each with why (the write without a token to sign in with)."""

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failed": self.failed,
            "checks": [c.to_json() for c in self.checks],
            "not_run": self.not_run,
        }


def run_gate(
    base_url: str,
    token: str | None,
    *,
    verify: str | bool = True,
    requests: int = DEFAULT_REQUESTS,
    timeout: float = REQUEST_TIMEOUT_S,
) -> Verdict:
    """GET /heartbeat answers 200 with status ok (or degraded); a POST /map as the operator is read back with the
    same version; `requests` heartbeats in a row all answer 200. Each request is bounded by `timeout`, and
    a refused or slow connection is a failed check, never an exception. Without a token (a stack that trusts an
    issuer of its own) the write and its read back are named under `not_run`."""
    import httpx

    verdict = Verdict()
    with httpx.Client(base_url=base_url, verify=verify, timeout=timeout) as client:
        verdict.checks.append(_heartbeat(client))
        if token is None:
            verdict.not_run.append("write and read back: no token (the stack trusts an issuer of its own)")
        else:
            verdict.checks.extend(_write_and_read(client, {"Authorization": f"Bearer {token}"}))
        verdict.checks.append(_burst(client, requests))
    return verdict


def _call(client: Any, method: str, path: str, **kwargs: Any) -> tuple[int | None, bytes, str]:
    import httpx

    try:
        answer = client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        return None, b"", "no answer in time"
    except httpx.HTTPError as exc:
        return None, b"", f"{type(exc).__name__}: {str(exc)[:120]}"
    return answer.status_code, answer.content, ""


def _heartbeat(client: Any) -> Check:
    status, body, error = _call(client, "GET", "/heartbeat")
    if status is None:
        return Check("heartbeat", False, error)
    state = _field(body, "status")
    ok = status == 200 and state in ("ok", "degraded")
    return Check("heartbeat", ok, f"{status} {state or body[:80].decode(errors='replace')}")


def _write_and_read(client: Any, headers: dict[str, str]) -> list[Check]:
    user = f"release-check-{secrets.token_hex(6)}"
    document = {"user_id": user, "practice": {"check": "release", "at": int(time.time())}}
    sent = {**headers, "Content-Type": "application/json"}
    status, body, error = _call(client, "POST", "/map", headers=sent, content=json.dumps(document))
    if status not in (200, 201):
        return [
            Check("write", False, error or f"{status} {body[:120].decode(errors='replace')}"),
            Check("read back", False, "skipped: the write failed"),
        ]
    version = _field(body, "version")
    read_status, read_body, error = _call(client, "GET", f"/map/{user}", headers=headers)
    same = read_status == 200 and _field(read_body, "version") == version
    detail = error or f"{read_status}, version {_field(read_body, 'version')} (written {version})"
    return [Check("write", True, f"{status}, version {version}"), Check("read back", same, detail)]


def _burst(client: Any, requests: int) -> Check:
    failures: dict[str, int] = {}
    for _ in range(requests):
        status, _, error = _call(client, "GET", "/heartbeat")
        if status != 200:
            key = error or str(status)
            failures[key] = failures.get(key, 0) + 1
    errors = sum(failures.values())
    detail = f"{requests - errors}/{requests} answered 200" + (f"; {failures}" if failures else "")
    return Check("requests", errors == 0, detail)


def _field(body: bytes, name: str) -> Any:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get(name) if isinstance(document, dict) else None
