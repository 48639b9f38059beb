"""What `infra load` does end to end: resolve the target once, run a step or the capacity search, judge it."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from cli.core.errors import OperationFailed
from cli.loadgen.capacity import CapacityResult, SearchOptions, find_capacity, validate_search
from cli.loadgen.options import LoadOptions, validate
from cli.loadgen.report import LoadFailed, LoadSummary, summarise
from cli.loadgen.runner import run_step
from cli.smoke import preflight
from cli.smoke.burst import limit_from_outputs
from cli.smoke.endpoint import ServiceEndpoint
from cli.smoke.redact import Redactor

Say = Callable[[str], None]


def resolve(target: ServiceEndpoint, timeout_s: float) -> str:
    """The address every generator process connects to (the first the resolver gives), or a failed run."""
    check, addresses = asyncio.run(preflight.dns(target.host, target.port, timeout_s))
    if not addresses:
        raise OperationFailed(f"cannot load {target.base_url}: {check.summary}", hint="check the URL or the stack")
    return addresses[0]


def edge_warning(target: ServiceEndpoint, rate: float) -> str | None:
    """A warning when the rate is above what the target's edge lets one client send (its per-client limit)."""
    limit = limit_from_outputs(target.edge_outputs, target.source)
    if limit is None or rate <= limit.limit / limit.window_s:
        return None
    per_second = limit.limit / limit.window_s
    return (
        f"{target.source} lets one client send {limit.limit} requests per {limit.window_s:g} s "
        f"(about {per_second:.3g}/s); above that its edge answers 429, so this run measures the limit, not the service"
    )


def _run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def run_load(target: ServiceEndpoint, options: LoadOptions, *, say: Say = lambda text: None) -> LoadSummary:
    """One run at `options.rate`; its gates judged, nothing raised for a breach (see `judge`)."""
    validate(options, token=target.token)
    address = resolve(target, options.timeout_s)
    return _step(target, address, options, _run_id(), say)


def _step(target: ServiceEndpoint, address: str, options: LoadOptions, run_id: str, say: Say) -> LoadSummary:
    processes = options.process_count
    say(
        f"load: {options.rate:g} req/s for {options.duration_s:g} s after a {options.warmup_s:g} s warm-up, "
        f"{processes} process{'es' if processes > 1 else ''}, up to {options.connections} connections, "
        f"mix {options.mix}"
    )
    warning = edge_warning(target, options.rate)
    if warning:
        say(f"[yellow]warning:[/] {warning}")
    step = run_step(target, address, options, run_id)
    summary = summarise(target.base_url, target.source, step)
    redact = Redactor(target.token)
    for kind, examples in step.merged.examples.items():
        step.merged.examples[kind] = [redact.text(text) for text in examples]
    return summary


def search_capacity(
    target: ServiceEndpoint,
    options: LoadOptions,
    search: SearchOptions,
    *,
    say: Say = lambda text: None,
    on_step: Callable[[LoadSummary], None] = lambda step: None,
) -> CapacityResult:
    """The capacity search from `options.rate` up; every step is a full run with its own warm-up."""
    validate(options, token=target.token)
    validate_search(search)
    address = resolve(target, options.timeout_s)
    run_id = _run_id()
    result = find_capacity(options, search, lambda step: _step(target, address, step, run_id, say), on_step)
    if result.broke is not None:
        refused = result.broke.step.merged.errors.get("http_429", 0)
        if refused:
            result.notes.append(
                f"the step that broke had {refused} answers of 429 (a rate limit: the edge's per-client limit, or "
                "the per-subject limit on writes): the search found that limit, not the service's capacity"
            )
        elif (warning := edge_warning(target, result.broke.options.rate)) is not None:
            result.notes.append(f"the step that broke was above the edge's per-client limit: {warning}")
    return result


def judge(summary: LoadSummary) -> None:
    """Raise the breach error (exit 1) when a gate broke; its JSON document carries the whole report."""
    if summary.passed:
        return
    names = ", ".join(g.name for g in summary.broken)
    raise LoadFailed(
        f"load run against {summary.target_url} at {summary.options.rate:g} req/s failed: {names}",
        hint="read the gates and errors above; lower --rate, or raise the limits with --p95-ms, --p99-ms, "
        "--max-error-rate",
        details={"load": summary.to_json()},
    )


def judge_capacity(result: CapacityResult) -> None:
    """Exit 1 when no rate held, or the capacity is under --target-rate."""
    if result.passed:
        return
    if result.held is None:
        message = f"no rate held its SLO ({result.stopped})"
    else:
        message = f"the capacity {result.capacity:g} req/s is under the target {result.search.target_rate:g} req/s"
    raise LoadFailed(
        f"capacity search failed: {message}",
        hint="read the steps above; the JSON and HTML reports carry each one",
        details={"capacity": result.to_json()},
    )
