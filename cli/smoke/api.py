"""The API's check plan: GET /heartbeat and authenticated POST /map writes confirmed by their version."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cli.smoke.classify import WRONG_BODY, http_status
from cli.smoke.http import build_request
from cli.smoke.load import Call, Verdict
from cli.smoke.redact import Redactor

HEARTBEAT = "GET /heartbeat"
MAP = "POST /map"
HEALTHY = ("ok", "degraded")
"""Heartbeat statuses of a working service; `degraded` (the cache down) is reported by the cache check."""


@dataclass
class _Writer:
    """The last version a worker's record is known to have, and whether a lost write may have landed since."""

    version: int = 0
    uncertain: bool = False


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def judge_heartbeat(status: int, body: bytes) -> Verdict:
    """200 with `status: ok` (or `degraded`: the cache is down, the service works) and, when the token may see
    them, the details of a successful database round trip."""
    if status != 200:
        return http_status(status), _snippet(body), None
    doc = _json(body)
    if not isinstance(doc, dict) or doc.get("status") not in HEALTHY:
        return WRONG_BODY, "heartbeat is not a JSON object with status 'ok' or 'degraded': " + _snippet(body), None
    if "database" not in doc:
        # The public answer (no admin token): the status alone, from the service's own shared database probe.
        return None, "", None
    database = doc.get("database")
    latency = database.get("latency_ms") if isinstance(database, dict) else None
    if not isinstance(database, dict) or not isinstance(latency, int | float) or not database.get("ok"):
        return WRONG_BODY, "heartbeat lacks a successful database round trip: " + _snippet(body), None
    return None, "", float(latency)


def _snippet(body: bytes, limit: int = 120) -> str:
    text = body[:limit].decode("utf-8", "replace").replace("\n", " ")
    return text + ("..." if len(body) > limit else "")


@dataclass
class ApiPlan:
    """Alternate heartbeats and writes; each worker writes its own record, so its versions must climb by one."""

    base_url: str
    token: str | None = field(repr=False)
    run_id: str
    writes: bool = True
    service: dict[str, Any] = field(default_factory=dict, init=False)
    """Name and version of the service, from the first good heartbeat."""
    _writers: dict[int, _Writer] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        self._redact = Redactor(self.token)
        self._host = parts.netloc
        self._prefix = parts.path.rstrip("/")
        heartbeat_headers = {"Accept": "application/json"}
        if self.token:
            # With a token the heartbeat reports its database round trip; without one, only the status.
            heartbeat_headers["Authorization"] = f"Bearer {self.token}"
        self._heartbeat = build_request("GET", self._prefix + "/heartbeat", self._host, heartbeat_headers)
        self._write_headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.token}",
        }

    def user_id(self, worker: int) -> str:
        return f"smoke-{self.run_id}-{worker}"

    def call(self, worker: int, n: int) -> Call:
        if self.writes and n % 2 == 1:
            return self._write(worker, n)
        return Call(HEARTBEAT, self._heartbeat, self._judge_heartbeat)

    def _judge_heartbeat(self, status: int, body: bytes) -> Verdict:
        body = self._redact.body(body)
        verdict = judge_heartbeat(status, body)
        if verdict[0] is None and not self.service:
            doc = json.loads(body)
            self.service = {"name": doc.get("service"), "version": doc.get("version")}
        return verdict

    def _write(self, worker: int, n: int) -> Call:
        state = self._writers.setdefault(worker, _Writer())
        user_id = self.user_id(worker)
        body = json.dumps({"user_id": user_id, "practice": {"check": "infra smoke", "run": self.run_id, "n": n}})

        def judge(status: int, raw: bytes) -> Verdict:
            raw = self._redact.body(raw)  # a server may echo the request, bearer token and all
            if status not in (200, 201):
                state.uncertain = state.uncertain or status >= 500
                return http_status(status), _snippet(raw), None
            doc = _json(raw)
            version = doc.get("version") if isinstance(doc, dict) else None
            if not isinstance(version, int) or isinstance(version, bool) or doc.get("user_id") != user_id:
                state.uncertain = True
                return WRONG_BODY, "write answer lacks this record's user_id and version: " + _snippet(raw), None
            expected = state.version + 1
            confirmed = version >= expected if state.uncertain else version == expected
            if not confirmed:
                want = f"above {state.version}" if state.uncertain else str(expected)
                state.version, state.uncertain = max(version, state.version), True
                return WRONG_BODY, f"write not confirmed: version {version}, expected {want}", None
            state.version, state.uncertain = version, False
            return None, "", None

        def lost() -> None:
            state.uncertain = True

        payload = build_request("POST", self._prefix + "/map", self._host, self._write_headers, body.encode())
        return Call(MAP, payload, judge, lost)
