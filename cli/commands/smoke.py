"""`infra smoke`: the connectivity check of a deployed service, with SLO gates and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.core.options import LOCAL_STACK, JsonOption


def smoke(
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            "-s",
            help="Check this stack's service (URL and signing secret from its outputs).",
            show_default=False,
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Check the service at this base URL instead of a stack's.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="INFRA_SMOKE_TOKEN",
            help="Bearer token for the writes; by default minted from the stack's signing secret.",
            show_default=False,
        ),
    ] = None,
    requests: Annotated[int, typer.Option("--requests", "-n", min=1, max=100_000, help="Requests to make.")] = 200,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=1000, help="Requests in flight at once.")
    ] = 10,
    timeout: Annotated[float, typer.Option("--timeout", min=0.001, help="Seconds each request may take.")] = 5.0,
    deadline: Annotated[
        float | None,
        typer.Option(
            "--deadline",
            min=0.001,
            help="Seconds the whole run may take, pre-flight included; default: the profile's deadline_s, else 60.",
            show_default=False,
        ),
    ] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Only GET /heartbeat; no writes.")] = False,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Network profile through the shaping proxy: wifi, 4g, 3g, lossy.")
    ] = None,
    profiles_file: Annotated[
        Path | None, typer.Option("--profiles-file", help="TOML file with more (or overriding) profiles.")
    ] = None,
    max_failures: Annotated[int, typer.Option("--max-failures", min=0, help="Gate: failed requests allowed.")] = 0,
    p95_ms: Annotated[
        float, typer.Option("--p95-ms", min=0.001, help="Gate: p95 latency must stay under this.")
    ] = 200.0,
    p99_ms: Annotated[
        float | None,
        typer.Option("--p99-ms", min=0.001, help="Gate: p99 latency must stay under this (off by default)."),
    ] = None,
    expect_redirect: Annotated[
        bool, typer.Option("--expect-redirect", help="With --url: plain HTTP on port 80 must redirect to HTTPS.")
    ] = False,
    ca_file: Annotated[
        Path | None, typer.Option("--ca-file", help="PEM file of the CAs to trust instead of the system's.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the profile's jitter and loss.")] = None,
    backend: Annotated[
        bool,
        typer.Option(
            "--backend/--no-backend",
            help="Check the cache on /heartbeat, the worker's asynchronous path and cache reads "
            "(skipped where the service has none).",
        ),
    ] = True,
    async_timeout: Annotated[
        float,
        typer.Option("--async-timeout", min=0.001, help="Seconds the worker may take to apply a write."),
    ] = 10.0,
    burst: Annotated[
        bool,
        typer.Option("--burst", help="Also send past the edge's per-client limit and check where 429s begin."),
    ] = False,
    burst_rate: Annotated[
        str | None,
        typer.Option(
            "--burst-rate",
            help="The per-client limit to expect, LIMIT/SECONDS (e.g. 1000/300); default: the stack's outputs.",
            show_default=False,
        ),
    ] = None,
    burst_allowance: Annotated[
        int | None,
        typer.Option(
            "--burst-allowance",
            min=1,
            help="Requests a clean client may send at once (nginx burst + 1); default: the limit.",
            show_default=False,
        ),
    ] = None,
    burst_tolerance: Annotated[
        float,
        typer.Option("--burst-tolerance", min=0.0, max=0.99, help="Fraction the measured allowance may stray."),
    ] = 0.1,
    burst_pace: Annotated[
        float | None,
        typer.Option(
            "--burst-pace",
            min=0.001,
            help="Requests per second the burst sends at (for an edge that reacts late); default: as fast as it can.",
            show_default=False,
        ),
    ] = None,
    burst_path: Annotated[str, typer.Option("--burst-path", help="Path the burst requests.")] = "/livez",
    junit: Annotated[Path | None, typer.Option("--junit", help="Write a JUnit XML report here.")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a deployed service end to end: pre-flight, keep-alive requests and writes, SLO gates."""
    from cli.core.errors import ConfigError
    from cli.core.render import emit_json, err_console
    from cli.smoke.burst import parse_rate
    from cli.smoke.check import SmokeOptions
    from cli.smoke.endpoint import from_url
    from cli.smoke.flow import judge, run_and_report
    from cli.smoke.gates import Gates
    from cli.smoke.profiles import get_profile

    if (burst_rate is not None or burst_allowance is not None or burst_pace is not None) and not burst:
        raise ConfigError("--burst-rate, --burst-allowance and --burst-pace are for --burst", hint="add --burst")
    if burst_allowance is not None and burst_rate is None:
        raise ConfigError(
            "--burst-allowance goes with --burst-rate", hint="e.g. --burst-rate 100/60 --burst-allowance 21"
        )
    burst_limit = parse_rate(burst_rate, allowance=burst_allowance) if burst_rate is not None else None
    if stack is not None and url is not None:
        raise ConfigError("--stack and --url are alternatives", hint="pass one of them")
    ca = str(ca_file) if ca_file else None
    if url is not None:
        target = from_url(url, token=token, expect_redirect=expect_redirect, ca_file=ca)
        console = err_console(quiet=as_json)
    elif expect_redirect:
        raise ConfigError("--expect-redirect is for --url", hint="a stack's redirect is always checked")
    else:
        from cli.commands.context import open_stack

        session, stack_backend = open_stack(stack or LOCAL_STACK, as_json=as_json)
        console = session.console
        target = stack_backend.service_endpoint(session, token=token, ca_file=ca)
    options = SmokeOptions(
        requests=requests,
        concurrency=concurrency,
        timeout_s=timeout,
        writes=not read_only,
        gates=Gates(max_failures=max_failures, p95_ms=p95_ms, p99_ms=p99_ms),
        profile=get_profile(profile, profiles_file) if profile else None,
        seed=seed,
        deadline_s=deadline,
        backend=backend,
        async_timeout_s=async_timeout,
        burst=burst,
        burst_limit=burst_limit,
        burst_path=burst_path,
        burst_tolerance=burst_tolerance,
        burst_pace_per_s=burst_pace,
    )
    report = run_and_report(target, options, console, junit=junit, html=html)
    judge(report)
    if as_json:
        emit_json({"ok": True, "smoke": report.to_json()})
