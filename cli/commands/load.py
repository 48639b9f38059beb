"""`infra load`: open-model load at a fixed rate, or a search for the highest rate that holds the SLO."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.core.options import LOCAL_STACK, JsonOption


def load(
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            "-s",
            help="Load this stack's service (URL and signing secret from its outputs).",
            show_default=False,
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Load the service at this base URL instead of a stack's.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="INFRA_SMOKE_TOKEN",
            help="Bearer token for the writes and reads; by default minted from the stack's signing secret.",
            show_default=False,
        ),
    ] = None,
    ca_file: Annotated[
        Path | None, typer.Option("--ca-file", help="PEM file of the CAs to trust instead of the system's.")
    ] = None,
    rate: Annotated[
        float, typer.Option("--rate", "-r", help="Requests per second to send (the first step with --find-capacity).")
    ] = 50.0,
    duration: Annotated[float, typer.Option("--duration", "-d", help="Seconds measured (per step).")] = 10.0,
    warmup: Annotated[float, typer.Option("--warmup", help="Seconds sent first and not measured (per step).")] = 2.0,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds each request may take.")] = 5.0,
    connections: Annotated[
        int, typer.Option("--connections", "-c", help="Most connections open at once; further sends wait for one.")
    ] = 256,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            help="Generator processes; default one per 1000 req/s, up to the CPU count.",
            show_default=False,
        ),
    ] = None,
    mix: Annotated[
        str,
        typer.Option(
            "--mix",
            help="Request kinds and weights: heartbeat (GET /heartbeat), write (POST /map), "
            "read (GET /map/{id} of a record written).",
        ),
    ] = "heartbeat=2,write=1,read=1",
    p95_ms: Annotated[float | None, typer.Option("--p95-ms", help="Gate: p95 latency must stay under this.")] = 200.0,
    p99_ms: Annotated[
        float | None,
        typer.Option("--p99-ms", help="Gate: p99 latency must stay under this (off by default).", show_default=False),
    ] = None,
    max_error_rate: Annotated[
        float, typer.Option("--max-error-rate", help="Gate: percentage of requests allowed to fail.")
    ] = 0.0,
    find_capacity: Annotated[
        bool,
        typer.Option(
            "--find-capacity", help="Raise the rate step by step until a gate breaks; report the highest that held."
        ),
    ] = False,
    step_factor: Annotated[
        float | None,
        typer.Option(
            "--step-factor", help="With --find-capacity: the rate's growth per step [default: 2].", show_default=False
        ),
    ] = None,
    resolution: Annotated[
        float | None,
        typer.Option(
            "--resolution",
            help="With --find-capacity: stop when the held and broken rates are this close "
            "(a fraction) [default: 0.1].",
            show_default=False,
        ),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option("--max-steps", help="With --find-capacity: most steps to run [default: 12].", show_default=False),
    ] = None,
    tasks: Annotated[
        int | None,
        typer.Option(
            "--tasks",
            help="Tasks serving the service, to report capacity per task; default: the stack's serviceDesiredCount.",
            show_default=False,
        ),
    ] = None,
    target_rate: Annotated[
        float | None,
        typer.Option(
            "--target-rate",
            help="With --find-capacity: the rate the service must carry; prints the tasks it "
            "takes and fails when the capacity is under it.",
            show_default=False,
        ),
    ] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Load a deployed service at a fixed arrival rate; latencies from intended send times; SLO gates."""
    from cli.core.errors import ConfigError
    from cli.core.render import emit_json, err_console
    from cli.loadgen.mix import parse_mix
    from cli.loadgen.options import LoadGates, LoadOptions

    if stack is not None and url is not None:
        raise ConfigError("--stack and --url are alternatives", hint="pass one of them")
    search_only = {
        "--step-factor": step_factor,
        "--resolution": resolution,
        "--max-steps": max_steps,
        "--target-rate": target_rate,
    }
    given = [name for name, value in search_only.items() if value is not None]
    if given and not find_capacity:
        raise ConfigError(f"{', '.join(given)} go with --find-capacity", hint="add --find-capacity")
    options = LoadOptions(
        rate=rate,
        duration_s=duration,
        warmup_s=warmup,
        timeout_s=timeout,
        connections=connections,
        processes=processes,
        weights=parse_mix(mix),
        gates=LoadGates(p95_ms=p95_ms, p99_ms=p99_ms, max_error_rate=max_error_rate / 100),
    )
    ca = str(ca_file) if ca_file else None
    tasks_source = "--tasks" if tasks is not None else ""
    if url is not None:
        from cli.smoke.endpoint import from_url

        target = from_url(url, token=token, expect_redirect=False, ca_file=ca)
        console = err_console(quiet=as_json)
    else:
        from cli.commands.context import open_stack
        from cli.core.stack_ref import load_settings

        session, backend = open_stack(stack or LOCAL_STACK, as_json=as_json)
        console = session.console
        target = backend.service_endpoint(session, token=token, ca_file=ca)
        if tasks is None:
            settings = load_settings(backend.stack, session.project_dir)
            tasks = settings.service_desired_count
            tasks_source = f"serviceDesiredCount of stack {backend.stack}"
            if settings.service_min_count != settings.service_max_count:
                tasks_source += " (autoscaling may have changed it; --tasks overrides)"
    if find_capacity:
        from cli.loadgen import capacity

        search = capacity.SearchOptions(
            factor=capacity.DEFAULT_FACTOR if step_factor is None else step_factor,
            resolution=capacity.DEFAULT_RESOLUTION if resolution is None else resolution,
            max_steps=capacity.DEFAULT_MAX_STEPS if max_steps is None else max_steps,
            tasks=tasks,
            tasks_source=tasks_source,
            target_rate=target_rate,
        )
        _capacity(target, options, search, console, html=html, as_json=as_json)
        return
    from cli.loadgen.flow import judge, run_load
    from cli.loadgen.html import summary_html
    from cli.loadgen.terminal import render_summary

    summary = run_load(target, options, say=lambda text: console.print(f"[dim]{text}[/]"))
    render_summary(console, summary)
    _write(html, summary_html(summary) if html else "", console)
    judge(summary)
    if as_json:
        emit_json({"ok": True, "load": summary.to_json()})


def _capacity(target, options, search, console, *, html: Path | None, as_json: bool) -> None:
    from cli.core.render import emit_json
    from cli.loadgen.flow import judge_capacity, search_capacity
    from cli.loadgen.html import capacity_html
    from cli.loadgen.terminal import render_capacity, render_step

    console.print(f"[bold]capacity search[/] of {target.base_url} from {options.rate:g} req/s")
    result = search_capacity(
        target,
        options,
        search,
        say=lambda text: console.print(f"[dim]{text}[/]"),
        on_step=lambda s: render_step(console, s),
    )
    render_capacity(console, result)
    _write(html, capacity_html(result, target.base_url, target.source) if html else "", console)
    judge_capacity(result)
    if as_json:
        emit_json({"ok": True, "capacity": result.to_json()})


def _write(path: Path | None, text: str, console) -> None:
    if path is None:
        return
    from cli.core.files import write_user_text

    write_user_text(path, text, "--html")
    console.print(f"[dim]wrote {path}[/]")
