"""The burst check: one client sends past the edge's per-client limit; 429s must begin where the limit says."""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from cli.core.errors import ConfigError
from cli.smoke.classify import classify_exception
from cli.smoke.http import Client, Endpoint, build_request
from cli.smoke.preflight import FAIL, PASS, Check

DEFAULT_TOLERANCE = 0.10
"""How far the measured allowance may stray from the configured one, as a fraction (the cloud's WAF counts
approximately and reacts after a delay; see docs/smoke.md)."""
FOLLOW_UPS = 10
"""Requests sent after the first 429, to see that the refusals hold and each one is well formed."""
MAX_BURST = 10_000
"""Most requests a burst may need: a larger limit is not a smoke check's to prove (see docs/smoke.md)."""
DEFAULT_PATH = "/livez"
RATE_LIMITED = "rate_limited"
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s?\s*")


@dataclass(frozen=True)
class EdgeLimit:
    """The edge's per-client limit: `limit` requests per `window_s` seconds; `allowance` admitted at once."""

    limit: int
    window_s: float
    allowance: int | None = None
    """Requests a client with a clean slate may send at once (nginx: burst + 1); the limit when not given."""
    source: str = "--burst-rate"

    def __post_init__(self) -> None:
        if self.limit < 1 or not math.isfinite(self.window_s) or self.window_s <= 0:
            raise ConfigError(
                f"the burst limit {self.limit}/{self.window_s:g} (from {self.source}) is not a rate",
                hint="a limit of 1 or more requests per a window of more than 0 seconds, e.g. --burst-rate 100/60",
            )
        if self.start_allowance > MAX_BURST:
            raise ConfigError(
                f"the burst allowance {self.start_allowance} (from {self.source}) would need over "
                f"{MAX_BURST} requests to reach",
                hint="the burst check is for limits up to 10000 requests per window; check a larger one from "
                "the firewall's metrics instead",
            )
        if self.allowance is not None and self.allowance < 1:
            raise ConfigError(
                f"the burst allowance {self.allowance} (from {self.source}) is below 1",
                hint="the requests a client may send at once, 1 or more",
            )

    @property
    def start_allowance(self) -> int:
        return self.allowance if self.allowance is not None else self.limit

    @property
    def rate_per_s(self) -> float:
        return self.limit / self.window_s

    def to_json(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "window_s": self.window_s,
            "allowance": self.start_allowance,
            "rate_per_s": round(self.rate_per_s, 4),
            "source": self.source,
        }


def parse_rate(text: str, *, allowance: int | None = None) -> EdgeLimit:
    """`LIMIT/WINDOW` (requests per seconds, e.g. `100/60`) from --burst-rate; a usage error otherwise."""
    match = _RATE.fullmatch(text)
    if match is None:
        raise ConfigError(
            f"--burst-rate {text[:40]!r} is not LIMIT/SECONDS", hint="e.g. --burst-rate 100/60 (100 requests a minute)"
        )
    return EdgeLimit(int(match[1]), float(match[2]), allowance, "--burst-rate")


def edge_outputs(values: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs that describe the edge's per-client limit, kept as they are until a burst check reads them."""
    from stacks import outputs as names

    wanted = (names.EDGE_RATE_LIMIT, names.EDGE_RATE_WINDOW_SECONDS, names.EDGE_RATE_ALLOWANCE)
    return {name: values[name] for name in wanted if name in values}


def limit_from_outputs(values: Mapping[str, Any], source: str) -> EdgeLimit | None:
    """The edge limit a stack exports, or None when it exports none (a stack without a firewall or edge limit)."""
    from stacks import outputs as names

    limit, window = values.get(names.EDGE_RATE_LIMIT), values.get(names.EDGE_RATE_WINDOW_SECONDS)
    if limit in (None, "") or window in (None, ""):
        return None
    allowance = values.get(names.EDGE_RATE_ALLOWANCE)
    try:
        return EdgeLimit(int(limit), float(window), None if allowance in (None, "") else int(allowance), source)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{source}'s outputs {names.EDGE_RATE_LIMIT}/{names.EDGE_RATE_WINDOW_SECONDS} are not numbers",
            hint="check `infra outputs`, or pass --burst-rate",
        ) from None


@dataclass(slots=True)
class _Answer:
    started: float
    status: int | None
    problem: str = ""


def _retry_after_ok(value: str | None) -> bool:
    if value is None:
        return False
    value = value.strip()
    if value.isdigit():
        return True
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    return True


def _refusal_problem(headers: Mapping[str, str], body: bytes) -> str:
    """What a 429 lacks: a Retry-After header, or the JSON error body with code rate_limited."""
    if not _retry_after_ok(headers.get("retry-after")):
        return "a 429 without a valid Retry-After header"
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    error = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(error, dict) or error.get("code") != RATE_LIMITED:
        return 'a 429 whose body is not {"error": {"code": "rate_limited", ...}}'
    return ""


@dataclass
class _Progress:
    """What the burst's connections share."""

    sent: int = 0
    admitted: int = 0
    """Answers in the 2xx range so far."""
    first_429: int | None = None
    """How many requests had been sent when the first 429 came back."""
    stop: bool = False


async def burst(
    where: Endpoint,
    path: str,
    limit: EdgeLimit,
    *,
    prior_requests: int,
    run_elapsed_s: float,
    concurrency: int,
    timeout_s: float,
    tolerance: float = DEFAULT_TOLERANCE,
    pace_per_s: float | None = None,
) -> Check:
    """Send GETs of `path` from one client until the edge refuses; judge where the refusals began.

    `prior_requests` the run already sent in the last `run_elapsed_s` seconds count against the same window, so the
    burst alone may be admitted as few as `allowance - prior_requests` (less the tolerance) and as many as
    `allowance + rate * run_elapsed` (a limiter that refills while the run goes on), plus the tolerance and the
    requests in flight when the first refusal came. `pace_per_s` spaces the requests out evenly instead of sending
    them as fast as the connections allow (for an edge that reacts late, such as AWS WAF).
    """
    low = math.floor(max(limit.start_allowance - prior_requests, 0) * (1 - tolerance))
    began = time.perf_counter()

    def high(now: float) -> int:
        refill = limit.rate_per_s * (run_elapsed_s + now - began)
        return math.ceil((limit.start_allowance + refill) * (1 + tolerance)) + concurrency

    request = build_request("GET", path, where.host_header, {"Accept": "application/json"})
    answers: list[_Answer] = []
    progress = _Progress()

    async def client_loop() -> None:
        client = Client(where)
        try:
            while not progress.stop:
                first = progress.first_429
                if first is not None and progress.sent >= first + FOLLOW_UPS:
                    return
                if first is None and progress.admitted > high(time.perf_counter()):
                    return
                number = progress.sent
                progress.sent += 1
                if pace_per_s:
                    await asyncio.sleep(max(began + number / pace_per_s - time.perf_counter(), 0))
                try:
                    response, started, _ = await client.send(request, timeout_s)
                except Exception as exc:
                    kind, detail = classify_exception(exc)
                    answers.append(_Answer(time.perf_counter(), None, f"{kind}: {detail}"))
                    progress.stop = True
                    return
                answer = _Answer(started, response.status)
                if response.status == 429:
                    answer.problem = _refusal_problem(response.headers, response.body)
                    if progress.first_429 is None:
                        progress.first_429 = progress.sent
                elif 200 <= response.status < 300:
                    progress.admitted += 1
                else:
                    answer.problem = f"answered {response.status}"
                    progress.stop = True
                answers.append(answer)
        finally:
            client.close()

    await asyncio.gather(*(client_loop() for _ in range(max(concurrency, 1))))
    return _judge(answers, limit, low, high(time.perf_counter()), prior_requests, began, tolerance, path)


def _judge(
    answers: list[_Answer],
    limit: EdgeLimit,
    low: int,
    high: int,
    prior: int,
    began: float,
    tolerance: float,
    path: str,
) -> Check:
    answers.sort(key=lambda a: a.started)
    took = (max((a.started for a in answers), default=began) - began) * 1000
    first = next((i for i, a in enumerate(answers) if a.status == 429), None)
    before = answers if first is None else answers[:first]
    admitted = sum(1 for a in before if a.status is not None and 200 <= a.status < 300)
    refused = [a for a in answers if a.status == 429]
    after_first = answers[first + 1 :] if first is not None else []
    configured = f"configured {limit.limit} per {limit.window_s:g} s, allowance {limit.start_allowance}"
    data: dict[str, Any] = {
        "path": path,
        "configured": limit.to_json(),
        "tolerance": tolerance,
        "expected_admitted": {"min": low, "max": high},
        "prior_requests": prior,
        "sent": len(answers),
        "admitted_before_429": admitted,
        "refused": len(refused),
    }
    if first is not None:
        first_s = answers[first].started - began
        data["first_429_after_ms"] = round(first_s * 1000, 3)
        data["measured_allowance"] = admitted + prior
        data["measured_ratio"] = round((admitted + prior) / limit.start_allowance, 3)
        data["refused_after_first"] = sum(1 for a in after_first if a.status == 429)
    under = next((a for a in before if a.problem), None)
    if under is not None:
        position = before.index(under) + 1
        summary = f"request {position} of the burst, under the limit, failed: {under.problem} ({configured})"
        return Check("burst", FAIL, summary, took, data)
    if first is None:
        summary = (
            f"no 429 after {admitted} requests admitted in {took:.0f} ms, more than the {high} the limit allows; "
            f"{configured}"
        )
        return Check("burst", FAIL, summary, took, data)
    began_at = (
        f"429s began after {admitted} requests ({admitted + prior} with the run's {prior} earlier ones) "
        f"in {first_s * 1000:.0f} ms, {data['measured_ratio']:.2f} times the configured allowance; {configured}"
    )
    malformed = next((a.problem for a in refused if a.problem), None)
    if malformed:
        return Check("burst", FAIL, f"{malformed}; {began_at}", took, data)
    if admitted < low:
        return Check("burst", FAIL, f"too early: {began_at}, at least {low} expected", took, data)
    if admitted > high:
        return Check("burst", FAIL, f"too late: {began_at}, at most {high} expected", took, data)
    held = data["refused_after_first"]
    if after_first and held * 2 < len(after_first):
        summary = f"the refusals did not hold: {held} of the next {len(after_first)} refused; {began_at}"
        return Check("burst", FAIL, summary, took, data)
    summary = f"{began_at} (expected {low} to {high}); each 429 had Retry-After and the JSON error body"
    return Check("burst", PASS, summary, took, data)
