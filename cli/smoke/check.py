"""Run the whole check: pre-flight, the optional shaping proxy, the requests, then the gates."""

from __future__ import annotations

import asyncio
import secrets
import socket
import ssl
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from cli.errors import ConfigError
from cli.smoke import preflight
from cli.smoke.api import ApiPlan
from cli.smoke.gates import Gates, evaluate
from cli.smoke.load import run_requests
from cli.smoke.profiles import Profile
from cli.smoke.proxy import ShapingProxy
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
    return asyncio.run(_run(target, options, on_stage))


def _ssl_context(target: SmokeTarget) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=target.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load CA file {target.ca_file}: {exc}", hint="pass a PEM bundle") from None


class _PinnedResolver(AbstractResolver):
    """Resolves the target's host name to the addresses the DNS check found, so requests time no lookups."""

    def __init__(self, host: str, addresses: list[str]) -> None:
        self.host = host
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        if host != self.host:
            raise OSError(f"{host} is not the target")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.addresses
        ]

    async def close(self) -> None:
        return None


def _session(
    target: SmokeTarget, addresses: list[str], context: ssl.SSLContext | None, size: int
) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=size,
        resolver=_PinnedResolver(target.host, addresses),
        ssl=context if context is not None else True,
        keepalive_timeout=60,
    )
    return aiohttp.ClientSession(connector=connector, auto_decompress=False)


async def _run(target: SmokeTarget, options: SmokeOptions, on_stage: Callable[[str], None]) -> SmokeReport:
    started_at = datetime.now(UTC)
    limit = options.timeout_s
    checks: list[preflight.Check] = []
    on_stage(f"pre-flight checks for {target.base_url}")
    dns_check, addresses = await preflight.dns(target.host, target.port, limit)
    checks.append(dns_check)
    context = _ssl_context(target) if target.https else None
    if context is not None and addresses:
        checks.append(await preflight.tls(target.host, addresses[0], target.port, context, limit))
    if target.redirect_port is not None and addresses:
        checks.append(await preflight.redirect(target.host, addresses[0], target.redirect_port, limit))
    run_id = started_at.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    plan = ApiPlan(target.base_url, target.token, run_id, writes=options.writes)
    samples, wall_s = [], 0.0
    if addresses:
        async with AsyncExitStack() as stack:
            base_url, request_options = target.base_url, {}
            if options.profile is not None:
                proxy = await stack.enter_async_context(
                    ShapingProxy(addresses[0], target.port, options.profile, seed=options.seed)
                )
                base_url, request_options = _through_proxy(target, proxy.port)
                plan = ApiPlan(base_url, target.token, run_id, writes=options.writes, host_header=_netloc(target))
            session: aiohttp.ClientSession = await stack.enter_async_context(
                _session(target, addresses, context, options.concurrency)
            )
            headers = {"Host": _netloc(target)} if options.profile is not None else None
            checks.append(await preflight.livez(session, base_url, limit, headers, request_options))
            shaped = f" through profile {options.profile.name}" if options.profile else ""
            on_stage(f"{options.requests} requests at concurrency {options.concurrency}{shaped}")
            samples, wall_s = await run_requests(
                session,
                plan,
                total=options.requests,
                concurrency=options.concurrency,
                timeout_s=limit,
                request_options=request_options,
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
    report.gate_results = evaluate(options.gates, report.overall, checks)
    return report


def _netloc(target: SmokeTarget) -> str:
    from urllib.parse import urlsplit

    return urlsplit(target.base_url).netloc


def _through_proxy(target: SmokeTarget, port: int) -> tuple[str, dict[str, Any]]:
    """The base URL that reaches the proxy, and the request options that keep TLS checking the real host."""
    from urllib.parse import urlsplit

    parts = urlsplit(target.base_url)
    base = f"{parts.scheme}://127.0.0.1:{port}{parts.path}"
    return base, ({"server_hostname": target.host} if target.https else {})
