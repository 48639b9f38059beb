"""The request mix: heartbeats, authenticated writes and reads of what was written, interleaved by weight."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from cli.core.errors import ConfigError
from cli.smoke.api import HEARTBEAT, MAP, judge_heartbeat
from cli.smoke.classify import WRONG_BODY, http_status
from cli.smoke.http import build_request
from cli.smoke.load import Call, Verdict
from cli.smoke.redact import Redactor

READ = "GET /map/{user_id}"
KINDS = {"heartbeat": HEARTBEAT, "write": MAP, "read": READ}
"""The mix's names on the command line and the endpoints they request."""
DEFAULT_MIX = {"heartbeat": 2, "write": 1, "read": 1}
AUTHENTICATED = ("write", "read")
RECORDS_PER_PROCESS = 64
"""Records each generator process writes in turn: reads have something to find, writes update rather than grow."""
MIX_HINT = "write it as NAME=WEIGHT pairs, e.g. --mix heartbeat=2,write=1,read=1 (names: heartbeat, write, read)"


def parse_mix(text: str) -> dict[str, int]:
    """`heartbeat=2,write=1,read=1` as weights; a usage error naming the bad part otherwise."""
    weights: dict[str, int] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip().lower()
        if not sep or name not in KINDS:
            shown = name if name.isidentifier() and len(name) <= 20 else "a part"
            raise ConfigError(f"--mix: {shown!r} is not NAME=WEIGHT with NAME one of heartbeat, write, read", MIX_HINT)
        if name in weights:
            raise ConfigError(f"--mix names {name!r} twice", MIX_HINT)
        value = value.strip()
        if not value.isdigit() or len(value) > 6:
            raise ConfigError(f"--mix: the weight of {name!r} is not a whole number from 0 to 999999", MIX_HINT)
        weights[name] = int(value)
    if not any(weights.values()):
        raise ConfigError("--mix gives every request kind a weight of 0", MIX_HINT)
    return weights


def mix_text(weights: Mapping[str, int]) -> str:
    return ",".join(f"{name}={weight}" for name, weight in weights.items() if weight)


class WeightedCycle:
    """Smooth weighted round robin: each kind in proportion to its weight, spread evenly, the same every run."""

    def __init__(self, weights: Mapping[str, int]) -> None:
        self._weights = [(name, weight) for name, weight in weights.items() if weight > 0]
        self._total = sum(weight for _, weight in self._weights)
        self._current = {name: 0 for name, _ in self._weights}

    def next(self) -> str:
        best = ""
        for name, weight in self._weights:
            self._current[name] += weight
            if not best or self._current[name] > self._current[best]:
                best = name
        self._current[best] -= self._total
        return best


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _snippet(body: bytes, limit: int = 120) -> str:
    text = body[:limit].decode("utf-8", "replace").replace("\n", " ")
    return text + ("..." if len(body) > limit else "")


@dataclass
class RequestMix:
    """Builds the next request of one generator process and judges its answer.

    Writes go to a small set of records of this run (`load-<run>-<process>-<n>`); a read asks for a record whose
    write was confirmed, so it must find it. Until one is confirmed, a read's turn makes a heartbeat instead.
    """

    base_url: str
    token: str | None = field(repr=False)
    run_id: str
    process: int
    weights: Mapping[str, int]

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        self._host = parts.netloc
        self._prefix = parts.path.rstrip("/")
        self._redact = Redactor(self.token)
        self._cycle = WeightedCycle(self.weights)
        self._written: list[str] = []
        self._written_set: set[str] = set()
        self._writes = 0
        self._reads = 0
        self._heartbeat = Call(
            HEARTBEAT,
            build_request("GET", self._prefix + "/heartbeat", self._host, {"Accept": "application/json"}),
            self._judge_heartbeat,
        )
        self._auth = {"Accept": "application/json", "Authorization": f"Bearer {self.token}"}
        ids = [f"load-{self.run_id}-{self.process}-{n}" for n in range(RECORDS_PER_PROCESS)]
        self._write_calls = [self._write_call(user_id) for user_id in ids]
        self._read_calls = {user_id: self._read_call(user_id) for user_id in ids}

    def next(self) -> Call:
        kind = self._cycle.next()
        if kind == "write":
            call = self._write_calls[self._writes % RECORDS_PER_PROCESS]
            self._writes += 1
            return call
        if kind == "read" and self._written:
            user_id = self._written[self._reads % len(self._written)]
            self._reads += 1
            return self._read_calls[user_id]
        return self._heartbeat

    def _judge_heartbeat(self, status: int, body: bytes) -> Verdict:
        return judge_heartbeat(status, self._redact.body(body))

    def _write_call(self, user_id: str) -> Call:
        body = json.dumps({"user_id": user_id, "practice": {"check": "infra load", "run": self.run_id}}).encode()
        headers = {**self._auth, "Content-Type": "application/json"}

        def judge(status: int, raw: bytes) -> Verdict:
            verdict = self._judge_record(status, raw, user_id, (200, 201))
            if verdict[0] is None and user_id not in self._written_set:
                self._written_set.add(user_id)
                self._written.append(user_id)
            return verdict

        return Call(MAP, build_request("POST", self._prefix + "/map", self._host, headers, body), judge)

    def _read_call(self, user_id: str) -> Call:
        path = f"{self._prefix}/map/{quote(user_id, safe='')}"

        def judge(status: int, raw: bytes) -> Verdict:
            return self._judge_record(status, raw, user_id, (200,))

        return Call(READ, build_request("GET", path, self._host, self._auth), judge)

    def _judge_record(self, status: int, raw: bytes, user_id: str, ok: tuple[int, ...]) -> Verdict:
        raw = self._redact.body(raw)  # a server may echo the request, bearer token and all
        if status not in ok:
            return http_status(status), _snippet(raw), None
        doc = _json(raw)
        version = doc.get("version") if isinstance(doc, dict) else None
        if not isinstance(version, int) or isinstance(version, bool) or doc.get("user_id") != user_id:
            return WRONG_BODY, "answer lacks this record's user_id and version: " + _snippet(raw), None
        return None, "", None


def needs_token(weights: Mapping[str, int]) -> bool:
    return any(weights.get(name, 0) for name in AUTHENTICATED)
