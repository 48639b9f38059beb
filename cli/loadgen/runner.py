"""Runs one step of load over several generator processes started together, and adds up what they measured."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from typing import Any
from urllib.parse import urlsplit

from cli.core.errors import OperationFailed
from cli.loadgen.engine import STOP_AFTER_S, Share, drive
from cli.loadgen.options import LoadOptions
from cli.loadgen.recorder import Merged, merge
from cli.smoke.endpoint import ServiceEndpoint

READY_TIMEOUT_S = 60.0
"""How long the processes may take to start (a cold import on a busy machine) before the run gives up."""
START_MARGIN_S = 0.05
"""The schedule starts this long after every process said it is ready, so none begins late."""


@dataclass
class StepResult:
    """One run at one rate: what was asked, when it ran, and the processes' merged measurements."""

    options: LoadOptions
    started_at: datetime
    merged: Merged
    processes: int


def _child(share: Share, pipe: Connection) -> None:
    """A generator process: say ready, wait for the common start time, run the share, send back the measurements."""
    try:
        pipe.send(("ready", None))
        kind, start_at = pipe.recv()
        if kind != "start":
            return
        recorder = asyncio.run(drive(share, start_at))
        pipe.send(("done", recorder.to_json()))
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # reported by the parent as a failed run, with the cause
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        pipe.close()


def shares(target: ServiceEndpoint, address: str, options: LoadOptions, run_id: str) -> list[Share]:
    """Each process's part of the schedule and of the connection budget."""
    count = options.process_count
    parts = urlsplit(target.base_url)
    return [
        Share(
            address=address,
            port=target.port,
            host_header=parts.netloc,
            server_hostname=target.host if target.https else None,
            ca_file=target.ca_file,
            https=target.https,
            base_url=target.base_url,
            token=target.token,
            run_id=run_id,
            weights=dict(options.weights),
            rate=options.rate,
            processes=count,
            index=index,
            warmup_s=options.warmup_s,
            duration_s=options.duration_s,
            timeout_s=options.timeout_s,
            connections=max(1, options.connections // count + (1 if index < options.connections % count else 0)),
        )
        for index in range(count)
    ]


def _receive(pipes: dict[Connection, int], expect: str, deadline: float, what: str) -> dict[int, Any]:
    answers: dict[int, Any] = {}
    waiting = dict(pipes)
    while waiting:
        left = deadline - time.monotonic()
        ready = wait(list(waiting), timeout=max(left, 0)) if left > 0 else []
        if not ready:
            raise OperationFailed(
                f"{len(waiting)} generator process(es) did not {what} in time",
                hint="the machine may be overloaded; lower --rate or --processes",
            )
        for pipe in [p for p in waiting if p in ready]:  # `wait` returns some of the connections it was given
            index = waiting.pop(pipe)
            try:
                kind, value = pipe.recv()
            except EOFError:
                raise OperationFailed(
                    f"generator process {index} ended without a result",
                    hint="it may have been killed (out of memory?); lower --rate or --processes",
                ) from None
            if kind == "error":
                raise OperationFailed(f"generator process {index} failed: {value}", hint="this is a bug; report it")
            if kind != expect:
                raise OperationFailed(f"generator process {index} answered {kind!r}, expected {expect!r}")
            answers[index] = value
    return answers


def run_step(target: ServiceEndpoint, address: str, options: LoadOptions, run_id: str) -> StepResult:
    """Start the processes, let each say it is ready, start their schedules together, and merge what they measured."""
    context = multiprocessing.get_context("spawn")
    started: list[tuple[Any, Connection]] = []
    try:
        for share in shares(target, address, options, run_id):
            parent, child = context.Pipe()
            process = context.Process(target=_child, args=(share, child), name=f"infra-load-{share.index}", daemon=True)
            process.start()
            child.close()
            started.append((process, parent))
        pipes = {pipe: index for index, (_, pipe) in enumerate(started)}
        _receive(pipes, "ready", time.monotonic() + READY_TIMEOUT_S, "start")
        start_at = time.monotonic() + START_MARGIN_S
        started_at = datetime.now(UTC)
        for _, pipe in started:
            pipe.send(("start", start_at))
        limit = start_at + options.warmup_s + options.duration_s + STOP_AFTER_S + 2 * (options.timeout_s + 1) + 30
        results = _receive(pipes, "done", limit, "finish")
    finally:
        for process, pipe in started:
            pipe.close()
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
    merged = merge([results[index] for index in sorted(results)])
    return StepResult(options, started_at, merged, len(started))
