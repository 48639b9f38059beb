"""The release check ECS runs at the test-traffic stage of a blue/green deployment (the code of a Lambda function)."""

# It runs alone in the Lambda runtime: the standard library for HTTP (urllib, bounded timeouts) and the runtime's own
# boto3 for the one AWS call it makes (reading the machine client's secret from Cognito). Its answer tells ECS whether
# the new ("green") tasks may take the production traffic: SUCCEEDED, FAILED (ECS rolls the deployment back) or
# IN_PROGRESS while the green tasks wait for the release's migration.

from __future__ import annotations

import base64
import dataclasses
import json
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from typing import Any

EVENT = "release check"
"""The `event` of the one JSON line each invocation logs; `infra up` finds the verdict by it."""
CHECK_USER = "release-check"
"""The record the authenticated write goes to: each release's check overwrites the same one."""
SUCCEEDED, FAILED, IN_PROGRESS = "SUCCEEDED", "FAILED", "IN_PROGRESS"
SCHEMA_BEHIND = "schema is at version"
"""What the API's heartbeat says while its release's migration has not run yet."""
HEALTHY = ("ok", "degraded")
"""Heartbeat statuses of a working service (`degraded`: the cache is down, every request is still served)."""


@dataclasses.dataclass(frozen=True)
class Config:
    """What the check targets and the limits it holds the release to (the function's environment)."""

    url: str
    """The test listener: `https://<host>:<test port>`."""
    requests: int = 20
    """Heartbeats of the burst after the functional checks."""
    p95_ms: float = 1000.0
    """The burst's 95th percentile latency must stay under this."""
    max_failures: int = 0
    """Failed requests the burst may have."""
    timeout_s: float = 5.0
    """Each request's timeout."""
    budget_s: float = 90.0
    """The whole check's time; what has not run by then fails as `deadline`."""
    schema_wait_s: float = 900.0
    """How long the green tasks may wait for the release's migration before the check fails."""
    callback_s: int = 20
    """Seconds ECS waits before asking again while the migration has not run."""
    token_endpoint: str = ""
    user_pool_id: str = ""
    client_id: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        def number(key: str, default: float) -> float:
            value = float(environ.get(key) or default)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{key}={environ.get(key)!r} is not allowed; allowed: a number of 0 or more")
            return value

        url = environ.get("CHECK_URL", "")
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"CHECK_URL={url!r} is not allowed; allowed: an http(s):// address")
        return cls(
            url=url.rstrip("/"),
            requests=int(number("CHECK_REQUESTS", cls.requests)),
            p95_ms=number("CHECK_P95_MS", cls.p95_ms),
            max_failures=int(number("CHECK_MAX_FAILURES", cls.max_failures)),
            timeout_s=number("CHECK_TIMEOUT_S", cls.timeout_s),
            budget_s=number("CHECK_BUDGET_S", cls.budget_s),
            schema_wait_s=number("CHECK_SCHEMA_WAIT_S", cls.schema_wait_s),
            callback_s=int(number("CHECK_CALLBACK_S", cls.callback_s)),
            token_endpoint=environ.get("TOKEN_ENDPOINT", ""),
            user_pool_id=environ.get("USER_POOL_ID", ""),
            client_id=environ.get("MACHINE_CLIENT_ID", ""),
        )

    @property
    def authenticated(self) -> bool:
        return bool(self.token_endpoint and self.user_pool_id and self.client_id)


@dataclasses.dataclass
class Answer:
    status: int | None
    body: bytes
    ms: float
    error: str = ""

    def object(self) -> dict[str, Any]:
        """The body as a JSON object; empty when it is not one."""
        try:
            doc = json.loads(self.body)
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    def snippet(self, limit: int = 160) -> str:
        if self.error:
            return self.error
        text = self.body[:limit].decode("utf-8", "replace").replace("\n", " ")
        return f"HTTP {self.status}: {text}"


@dataclasses.dataclass
class Outcome:
    """Every check's result, and whether the green tasks are still waiting for their schema."""

    checks: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    waiting: str = ""

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append({"name": name, "ok": ok, "detail": detail})
        return ok

    @property
    def failed(self) -> list[str]:
        return [c["name"] for c in self.checks if not c["ok"]]


def request(
    method: str, url: str, *, timeout: float, headers: Mapping[str, str] | None = None, data: bytes | None = None
) -> Answer:
    """One request with a bounded timeout; a refused connection or a timeout is an answer without a status."""
    started = time.monotonic()
    prepared = urllib.request.Request(url, data=data, headers=dict(headers or {}), method=method)  # noqa: S310 - the stack's own test listener
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as response:  # noqa: S310
            body, status = response.read(65536), response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(65536), exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Answer(None, b"", (time.monotonic() - started) * 1000, f"{type(reason).__name__}: {reason}"[:200])
    return Answer(status, body, (time.monotonic() - started) * 1000)


def machine_token(config: Config, cognito: Any) -> str:
    """An access token of the stack's machine client (client credentials); its secret is read from Cognito."""
    described = cognito.describe_user_pool_client(UserPoolId=config.user_pool_id, ClientId=config.client_id)
    secret = described["UserPoolClient"]["ClientSecret"]
    basic = base64.b64encode(f"{config.client_id}:{secret}".encode()).decode()
    answer = request(
        "POST",
        config.token_endpoint,
        timeout=config.timeout_s,
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        data=b"grant_type=client_credentials",
    )
    token = answer.object().get("access_token") if answer.status == 200 else None
    if not isinstance(token, str) or not token:
        raise RuntimeError(f"the token endpoint gave no token ({answer.status or answer.error})")
    return token


def run_checks(config: Config, token: str | None, *, clock: Callable[[], float] = time.monotonic) -> Outcome:
    """Heartbeat, the authenticated write read back, then a bounded burst of heartbeats against the SLO gates."""
    outcome = Outcome()
    deadline = clock() + config.budget_s
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    heartbeat = request("GET", config.url + "/heartbeat", timeout=config.timeout_s, headers=auth)
    doc = heartbeat.object()
    if heartbeat.status == 503 and SCHEMA_BEHIND in str(doc.get("reason", "")):
        outcome.waiting = str(doc["reason"])[:300]
        return outcome
    healthy = heartbeat.status == 200 and doc.get("status") in HEALTHY
    if healthy and token and not (doc.get("database") or {}).get("ok"):
        healthy = False
    if not outcome.add("heartbeat", healthy, "" if healthy else heartbeat.snippet()):
        return outcome
    if token:
        _write_and_read(config, auth, outcome)
    latencies, failures = [], []
    for n in range(config.requests):
        if clock() > deadline:
            outcome.add("deadline", False, f"{n} of {config.requests} burst requests within {config.budget_s:g} s")
            break
        answer = request("GET", config.url + "/heartbeat", timeout=config.timeout_s)
        good = answer.status == 200 and answer.object().get("status") in HEALTHY
        (latencies if good else failures).append(answer.ms if good else answer.snippet())
    outcome.add(
        "failures",
        len(failures) <= config.max_failures,
        f"{len(failures)} of {config.requests} failed" + (f"; first: {failures[0]}" if failures else ""),
    )
    p95 = percentile(latencies, 95)
    outcome.add("p95", p95 is not None and p95 < config.p95_ms, f"{_ms(p95)} (limit {config.p95_ms:g} ms)")
    return outcome


def _write_and_read(config: Config, auth: dict[str, str], outcome: Outcome) -> None:
    run = uuid.uuid4().hex[:12]
    body = json.dumps({"user_id": CHECK_USER, "practice": {"check": "release", "run": run}}).encode()
    headers = {**auth, "Content-Type": "application/json", "Accept": "application/json"}
    written = request("POST", config.url + "/map", timeout=config.timeout_s, headers=headers, data=body)
    version = written.object().get("version") if written.status in (200, 201) else None
    if not outcome.add("write", isinstance(version, int), "" if isinstance(version, int) else written.snippet()):
        return
    read = request("GET", f"{config.url}/map/{CHECK_USER}", timeout=config.timeout_s, headers=auth)
    doc = read.object() if read.status == 200 else {}
    same = doc.get("version") == version and (doc.get("practice") or {}).get("run") == run
    outcome.add("read back", same, "" if same else f"expected version {version}, run {run}; {read.snippet()}")


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank percentile, or None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _ms(value: float | None) -> str:
    return "no timed responses" if value is None else f"{value:.0f} ms"


def _state(event: Mapping[str, Any]) -> dict[str, Any]:
    """What an earlier IN_PROGRESS answer handed back (ECS passes hookDetails to the next invocation)."""
    details = event.get("hookDetails") or {}
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            details = {}
    return details if isinstance(details, dict) else {}


def decide(
    event: Mapping[str, Any],
    config: Config,
    *,
    cognito: Any = None,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The hook's answer to one invocation, with the JSON line it logs under `log`."""
    target = str((event.get("executionDetails") or event).get("targetServiceRevisionArn", ""))
    token, outcome = None, Outcome()
    if config.authenticated:
        try:
            token = machine_token(config, cognito if cognito is not None else _cognito())
        except Exception as exc:
            outcome.add("token", False, f"{type(exc).__name__}: {exc}"[:300])
    if not outcome.failed:
        outcome = run_checks(config, token)
    state = _state(event)
    answer: dict[str, Any]
    if outcome.waiting:
        since = float(state.get("waitingSince") or now())
        if now() - since < config.schema_wait_s:
            answer = {
                "hookStatus": IN_PROGRESS,
                "callBackDelay": config.callback_s,
                "hookDetails": {"waitingSince": since},
            }
        else:
            outcome.add("schema", False, f"still behind after {config.schema_wait_s:g} s: {outcome.waiting}")
            answer = {"hookStatus": FAILED}
    else:
        answer = {"hookStatus": FAILED if outcome.failed else SUCCEEDED}
    log = {
        "event": EVENT,
        "verdict": answer["hookStatus"],
        "failed": outcome.failed,
        "checks": outcome.checks,
        "waiting": outcome.waiting or None,
        "target": target,
        "authenticated": token is not None,
    }
    return {**answer, "log": log}


def _cognito() -> Any:
    import boto3  # the Lambda runtime's own

    return boto3.client("cognito-idp")


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: run the check, log its verdict as one JSON line, answer ECS."""
    try:
        config = Config.from_environ(os.environ)
    except ValueError as exc:
        print(json.dumps({"event": EVENT, "verdict": FAILED, "failed": ["configuration"], "reason": str(exc)}))
        return {"hookStatus": FAILED}
    answer = decide(event, config)
    print(json.dumps(answer.pop("log"), sort_keys=True))
    return answer
