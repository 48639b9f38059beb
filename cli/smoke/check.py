"""Run the whole check: pre-flight, the optional shaping proxy, the requests, then the gates."""

from __future__ import annotations

import asyncio
import secrets
import ssl
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cli.errors import ConfigError
from cli.smoke import preflight
from cli.smoke.api import ApiPlan
from cli.smoke.gates import Gates, evaluate
from cli.smoke.http import Endpoint
from cli.smoke.load import run_requests
from cli.smoke.profiles import Profile
from cli.smoke.proxy import ShapingProxy
from cli.smoke.redact import Redactor
from cli.smoke.report import SmokeReport
from cli.smoke.target import SmokeTarget

DEFAULT_REQUESTS = 200
DEFAULT_CONCURRENCY = 10
DEFAULT_TIMEOUT_S = 5.0


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


def validate(target: SmokeTarget, options: SmokeOptions) -> None:
    """Refuse a run that cannot do what it is asked before any network traffic."""
    if options.requests < 1 or options.concurrency < 1:
        raise ConfigError("--requests and --concurrency must be at least 1", hint="e.g. --requests 200")
    if options.timeout_s <= 0:
        raise ConfigError("--timeout must be above 0 seconds", hint="e.g. --timeout 5")
    if options.gates.max_failures < 0:
        raise ConfigError("--max-failures must be 0 or more", hint="0 means every request must succeed")
    if options.writes and not target.token:
        raise ConfigError(
            "the check's writes (POST /map) need a bearer token",
            hint="pass --token (or INFRA_SMOKE_TOKEN), use --stack to mint one, or --read-only to skip writes",
        )


def run_smoke(
    target: SmokeTarget, options: SmokeOptions, *, on_stage: Callable[[str], None] = lambda text: None
) -> SmokeReport:
    """Run the check against the target and judge it; network problems become findings, not exceptions."""
    validate(target, options)
    context = _ssl_context(target) if target.https else None
    return asyncio.run(_run(target, options, context, on_stage))


def _ssl_context(target: SmokeTarget) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=target.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load CA file {target.ca_file}: {exc}", hint="pass a PEM bundle") from None


def endpoint(target: SmokeTarget, address: str, context: ssl.SSLContext | None) -> Endpoint:
    """Where the requests go: the service's address, with its host name for the Host header and SNI."""
    return Endpoint(address, target.port, _netloc(target), context, target.host if context else None)


async def _run(
    target: SmokeTarget, options: SmokeOptions, context: ssl.SSLContext | None, on_stage: Callable[[str], None]
) -> SmokeReport:
    started_at = datetime.now(UTC)
    limit = options.timeout_s
    checks: list[preflight.Check] = []
    on_stage(f"pre-flight checks for {target.base_url}")
    dns_check, addresses = await preflight.dns(target.host, target.port, limit)
    checks.append(dns_check)
    if context is not None and addresses:
        checks.append(await preflight.tls(target.host, addresses[0], target.port, context, limit))
    if target.redirect_port is not None and addresses:
        checks.append(await preflight.redirect(target.host, addresses[0], target.redirect_port, limit))
    run_id = started_at.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    plan = ApiPlan(target.base_url, target.token, run_id, writes=options.writes)
    samples, wall_s = [], 0.0
    if addresses:
        async with AsyncExitStack() as stack:
            where = endpoint(target, addresses[0], context)
            if options.profile is not None:
                proxy = await stack.enter_async_context(
                    ShapingProxy(addresses[0], target.port, options.profile, seed=options.seed)
                )
                where = replace(where, address="127.0.0.1", port=proxy.port)
            checks.append(await preflight.livez(where, urlsplit(target.base_url).path.rstrip("/"), limit))
            shaped = f" through profile {options.profile.name}" if options.profile else ""
            on_stage(f"{options.requests} requests at concurrency {options.concurrency}{shaped}")
            samples, wall_s = await run_requests(
                where, plan, total=options.requests, concurrency=options.concurrency, timeout_s=limit
            )
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
        preflight=checks,
        samples=samples,
        wall_s=wall_s,
        gate_results=[],
        service=plan.service,
        run_id=run_id,
    )
    Redactor(target.token).report(report)
    report.gate_results = evaluate(options.gates, report.overall, checks)
    return report


def _netloc(target: SmokeTarget) -> str:
    return urlsplit(target.base_url).netloc
