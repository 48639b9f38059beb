"""Run the whole check: pre-flight, the optional shaping proxy, the requests, then the gates."""

from __future__ import annotations

import asyncio
import functools
import math
import secrets
import ssl
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cli.core.errors import ConfigError
from cli.smoke import access, preflight
from cli.smoke.api import ApiPlan
from cli.smoke.backend_checks import DEFAULT_ASYNC_TIMEOUT_S, BackendProbe, run_backend_checks
from cli.smoke.burst import DEFAULT_PATH, DEFAULT_TOLERANCE, EdgeLimit, burst, limit_from_outputs
from cli.smoke.classify import CONNECT, DEADLINE, DNS, TLS
from cli.smoke.endpoint import ServiceEndpoint
from cli.smoke.file_check import files_round_trip
from cli.smoke.gates import Gates, checks_gate, deadline_gate, evaluate
from cli.smoke.http import Endpoint
from cli.smoke.load import run_requests
from cli.smoke.profiles import Profile
from cli.smoke.proxy import ShapingProxy
from cli.smoke.redact import Redactor
from cli.smoke.report import SmokeReport
from cli.smoke.stats import Sample

DEFAULT_REQUESTS = 200
DEFAULT_CONCURRENCY = 10
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_DEADLINE_S = 60.0
"""The whole run's limit when neither --deadline nor the profile sets one: a healthy service needs a few seconds."""


@dataclass(frozen=True)
class SmokeOptions:
    """How many requests, how many at once, how long each may take, what to write, and what must hold."""

    requests: int = DEFAULT_REQUESTS
    concurrency: int = DEFAULT_CONCURRENCY
    timeout_s: float = DEFAULT_TIMEOUT_S
    writes: bool = True
    gates: Gates = field(default_factory=Gates)
    profile: Profile | None = None
    seed: int | None = None
    """Seed of the shaping proxy's jitter and loss, for repeatable runs."""
    deadline_s: float | None = None
    """How long the whole run may take; None takes the profile's `deadline_s`, else DEFAULT_DEADLINE_S."""
    backend: bool = True
    """Check the cache on /heartbeat, the worker's asynchronous path and cache reads (skipped where unsupported)."""
    async_timeout_s: float = DEFAULT_ASYNC_TIMEOUT_S
    """How long the worker may take to apply a write."""
    burst: bool = False
    """Send past the edge's per-client limit and check where the 429s begin."""
    burst_limit: EdgeLimit | None = None
    """The limit to expect (--burst-rate); None takes the target's (its stack's outputs)."""
    burst_path: str = DEFAULT_PATH
    burst_tolerance: float = DEFAULT_TOLERANCE
    burst_pace_per_s: float | None = None
    """Requests per second the burst sends at; None sends as fast as the connections allow."""

    @property
    def effective_deadline_s(self) -> float:
        if self.deadline_s is not None:
            return self.deadline_s
        if self.profile is not None and self.profile.deadline_s is not None:
            return self.profile.deadline_s
        return DEFAULT_DEADLINE_S


def validate(target: ServiceEndpoint, options: SmokeOptions) -> None:
    """Refuse a run that cannot do what it is asked before any network traffic."""
    if options.requests < 1 or options.concurrency < 1:
        raise ConfigError("--requests and --concurrency must be at least 1", hint="e.g. --requests 200")
    if options.timeout_s <= 0:
        raise ConfigError("--timeout must be above 0 seconds", hint="e.g. --timeout 5")
    if not math.isfinite(options.effective_deadline_s) or options.effective_deadline_s <= 0:
        raise ConfigError("--deadline must be a number of seconds above 0", hint="e.g. --deadline 60")
    if options.gates.max_failures < 0:
        raise ConfigError("--max-failures must be 0 or more", hint="0 means every request must succeed")
    if not math.isfinite(options.async_timeout_s) or options.async_timeout_s <= 0:
        raise ConfigError("--async-timeout must be a number of seconds above 0", hint="e.g. --async-timeout 10")
    if options.burst:
        edge_limit(target, options)
        if not 0 <= options.burst_tolerance < 1:
            raise ConfigError(
                f"--burst-tolerance {options.burst_tolerance:g} is not a fraction from 0 to below 1",
                hint="e.g. --burst-tolerance 0.1 (10 %)",
            )
        pace = options.burst_pace_per_s
        if pace is not None and (not math.isfinite(pace) or pace <= 0):
            raise ConfigError("--burst-pace must be requests per second above 0", hint="e.g. --burst-pace 10")
        if not options.burst_path.startswith("/") or any(ch.isspace() or ch in "?#" for ch in options.burst_path):
            raise ConfigError("--burst-path must be a path such as /livez", hint="no blanks, query or fragment")
    if options.writes and not target.token:
        raise ConfigError(
            "the check's writes (POST /map) need a bearer token",
            hint="pass --token (or INFRA_SMOKE_TOKEN), use --stack to mint one, or --read-only to skip writes",
        )


def edge_limit(target: ServiceEndpoint, options: SmokeOptions) -> EdgeLimit:
    """The per-client limit the burst check expects: --burst-rate, else the one the target's stack exports."""
    limit = options.burst_limit or limit_from_outputs(target.edge_outputs, target.source)
    if limit is None:
        raise ConfigError(
            f"the burst check needs the edge's per-client limit, and {target.source} does not export one",
            hint="pass --burst-rate LIMIT/SECONDS (e.g. --burst-rate 1000/300)",
        )
    return limit


def run_smoke(
    target: ServiceEndpoint, options: SmokeOptions, *, on_stage: Callable[[str], None] = lambda text: None
) -> SmokeReport:
    """Run the check against the target and judge it; network problems become findings, not exceptions."""
    validate(target, options)
    context = _ssl_context(target) if target.https else None
    return asyncio.run(_run(target, options, context, on_stage))


def _ssl_context(target: ServiceEndpoint) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=target.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load CA file {target.ca_file}: {exc}", hint="pass a PEM bundle") from None


def endpoint(target: ServiceEndpoint, address: str, context: ssl.SSLContext | None) -> Endpoint:
    """Where the requests go: the service's address, with its host name for the Host header and SNI."""
    return Endpoint(address, target.port, _netloc(target), context, target.host if context else None)


@dataclass
class _Progress:
    """What a run has done so far, kept outside the phases so a run cut off by its deadline still reports it."""

    phase: str = "preflight dns"
    checks: list[preflight.Check] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    backend: list[preflight.Check] = field(default_factory=list)
    """The backend and burst checks, after the requests."""
    sent: int = 0
    """Requests sent outside the load (pre-flight, backend checks), counted against the edge's per-client limit."""
    load_started: float | None = None
    began: float = field(default_factory=time.perf_counter)
    wall_s: float | None = None
    """The requests' wall time, once they all ended."""


async def _run(
    target: ServiceEndpoint, options: SmokeOptions, context: ssl.SSLContext | None, on_stage: Callable[[str], None]
) -> SmokeReport:
    started_at = datetime.now(UTC)
    began = time.perf_counter()
    run_id = started_at.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    plan = ApiPlan(target.base_url, target.token, run_id, writes=options.writes)
    progress = _Progress()
    deadline_s = options.effective_deadline_s
    budget = asyncio.timeout(deadline_s)
    ran_out = None
    try:
        async with budget:
            await _phases(target, options, context, on_stage, plan, progress)
    except TimeoutError:
        if not budget.expired():
            raise
        ran_out = progress.phase
        if ran_out.startswith("preflight "):
            name = ran_out.removeprefix("preflight ")
            summary = f"cut off: the run's deadline of {deadline_s:g} s ran out"
            progress.checks.append(preflight.Check(name, preflight.FAIL, summary, None, {"failure": DEADLINE}))
        elif ran_out in _CHECK_NAMES:
            summary = f"cut off: the run's deadline of {deadline_s:g} s ran out"
            done = {c.name for c in progress.backend}
            progress.backend += [
                preflight.Check(name, preflight.FAIL, summary, None, {"failure": DEADLINE})
                for name in _CHECK_NAMES[ran_out]
                if name not in done
            ]
    ended = time.perf_counter()
    wall_s = progress.wall_s
    if wall_s is None:  # cut off during the requests, or never got to them
        wall_s = ended - progress.load_started if progress.load_started is not None else 0.0
    report = SmokeReport(
        target_url=target.base_url,
        source=target.source,
        started_at=started_at,
        requests=options.requests,
        concurrency=options.concurrency,
        timeout_s=options.timeout_s,
        writes=options.writes,
        gates=options.gates,
        profile=options.profile,
        preflight=progress.checks,
        samples=progress.samples,
        wall_s=wall_s,
        gate_results=[],
        service=plan.service,
        run_id=run_id,
        deadline_s=deadline_s,
        elapsed_s=ended - began,
        ran_out=ran_out,
        checks=progress.backend,
        edge=dict(target.edge_outputs),
    )
    tokens = (target.access.user_token, target.access.limited_token) if target.access else ()
    Redactor(target.token, *tokens).report(report)
    answered = sum(1 for s in report.samples if s.failure != DEADLINE)
    done = f"{answered} of {options.requests} requests done" if ran_out == "load" else ""
    report.gate_results = [
        *evaluate(options.gates, report.overall, report.preflight),
        *checks_gate(report.checks),
        deadline_gate(deadline_s, report.elapsed_s, ran_out, done),
    ]
    return report


async def _phases(
    target: ServiceEndpoint,
    options: SmokeOptions,
    context: ssl.SSLContext | None,
    on_stage: Callable[[str], None],
    plan: ApiPlan,
    progress: _Progress,
) -> None:
    """Pre-flight, then the requests; `progress.phase` names what is running, for a deadline that runs out."""
    limit = options.timeout_s
    checks = progress.checks
    on_stage(f"pre-flight checks for {target.base_url}")
    progress.phase = "preflight dns"
    dns_check, addresses = await preflight.dns(target.host, target.port, limit)
    checks.append(dns_check)
    if not addresses:
        return
    if context is not None:
        progress.phase = "preflight tls"
        checks.append(await preflight.tls(target.host, addresses[0], target.port, context, limit))
        if checks[-1].failed:
            return  # without a TLS session no request can be made; the report says why
    if target.redirect_port is not None:
        progress.phase = "preflight redirect"
        checks.append(await preflight.redirect(target.host, addresses[0], target.redirect_port, limit))
    async with AsyncExitStack() as stack:
        where = endpoint(target, addresses[0], context)
        if options.profile is not None:
            progress.phase = "proxy start"
            proxy = await stack.enter_async_context(
                ShapingProxy(addresses[0], target.port, options.profile, seed=options.seed)
            )
            where = replace(where, address="127.0.0.1", port=proxy.port)
        progress.phase = "preflight livez"
        livez = await preflight.livez(where, urlsplit(target.base_url).path.rstrip("/"), limit)
        if livez.data.get("failure") in _UNREACHABLE:  # nothing to talk to: the requests would only repeat it
            address = f"{addresses[0]}:{target.port}"
            checks.append(
                replace(livez, summary=f"{livez.summary} ({address})", data={**livez.data, "address": address})
            )
            return
        checks.append(livez)
        shaped = f" through profile {options.profile.name}" if options.profile else ""
        on_stage(f"{options.requests} requests at concurrency {options.concurrency}{shaped}")
        progress.phase = "load"
        progress.load_started = time.perf_counter()
        _, progress.wall_s = await run_requests(
            where,
            plan,
            total=options.requests,
            concurrency=options.concurrency,
            timeout_s=limit,
            into=progress.samples,
        )
        progress.sent += sum(1 for c in checks if c.name in ("redirect", "livez"))
        prefix = urlsplit(target.base_url).path.rstrip("/")
        if options.backend:
            progress.phase = "checks"
            on_stage("backend checks: the cache, the asynchronous path, cache reads, files")
            token = target.token if options.writes else None
            probe = BackendProbe(where, prefix, token, plan.run_id, limit)
            try:
                await run_backend_checks(
                    probe,
                    writes=options.writes,
                    async_timeout_s=options.async_timeout_s,
                    into=progress.backend,
                    more=[functools.partial(files_round_trip, ca_file=target.ca_file)],
                )
            finally:
                progress.sent += probe.sent
        if target.access is not None:
            progress.phase = "access"
            on_stage("authorization checks: a user's own record, another user's record, a missing scope")
            admin = BackendProbe(where, prefix, target.token if options.writes else None, plan.run_id, limit)
            try:
                await access.run_access_checks(admin, target.access, writes=options.writes, into=progress.backend)
            finally:
                admin.close()
                progress.sent += admin.sent
        if options.burst:
            progress.phase = "burst"
            edge = edge_limit(target, options)
            on_stage(f"burst past the edge limit of {edge.limit} per {edge.window_s:g} s")
            progress.backend.append(
                await burst(
                    where,
                    urlsplit(target.base_url).path.rstrip("/") + options.burst_path,
                    edge,
                    prior_requests=progress.sent + len(progress.samples),
                    run_elapsed_s=time.perf_counter() - progress.began,
                    concurrency=options.concurrency,
                    timeout_s=limit,
                    tolerance=options.burst_tolerance,
                    pace_per_s=options.burst_pace_per_s,
                )
            )


_UNREACHABLE = frozenset({CONNECT, DNS, TLS})
"""Pre-flight failures after which no request can reach the service, so the run stops there."""
_CHECK_NAMES = {
    "checks": ("cache", "async", "cache_read", "files"),
    "access": access.NAMES,
    "burst": ("burst",),
}
"""The checks each late phase runs, to mark the ones a deadline cut off."""


def _netloc(target: ServiceEndpoint) -> str:
    return urlsplit(target.base_url).netloc
