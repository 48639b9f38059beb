"""Smoke-check engine benchmark: 200 requests at concurrency 10 against nginx `return 200`, beside wrk.

Run with `.venv/bin/python -m bench.smoke [--rounds N]`. The check's engine and wrk run interleaved (A B A B ...)
against the same nginx; medians are reported, since other work on the machine moves single runs a lot.
Goals: the 200 requests in under 0.2 s, and the engine's p50 within 2x wrk's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from bench.dataplane import _start_nginx, wrk
from cli.smoke.http import Endpoint, build_request
from cli.smoke.load import Call, run_requests
from cli.smoke.stats import percentile
from tests.harness import scratch_dir

REQUESTS = 200
CONCURRENCY = 10
WALL_GOAL_S = 0.2
P50_RATIO_GOAL = 2.0


class _Plain:
    """GET / and accept any 200: what the engine costs, without the API's body checks."""

    def __init__(self, host: str) -> None:
        self.payload = build_request("GET", "/", host, {})

    def call(self, worker: int, n: int) -> Call:
        return Call("GET /", self.payload, _judge)


def _judge(status: int, body: bytes) -> tuple[str | None, str, float | None]:
    return (None if status == 200 else f"http_{status}"), "", None


async def _engine_once(port: int) -> dict:
    where = Endpoint("127.0.0.1", port, f"127.0.0.1:{port}")
    plan = _Plain(where.host_header)
    samples, wall = await run_requests(where, plan, total=REQUESTS, concurrency=CONCURRENCY, timeout_s=5)
    latencies = sorted(s.latency_ms for s in samples)
    failed = sum(1 for s in samples if not s.ok)
    return {"wall_ms": wall * 1000, "p50_ms": percentile(latencies, 50), "failed": failed}


def _wrk_once(url: str, seconds: int) -> dict:
    result = wrk(url + "/", CONCURRENCY, seconds)
    # wrk runs for a duration, not a count: the time it needs for 200 requests at the rate it sustained.
    return {"wall_ms": REQUESTS / result["rps"] * 1000, "p50_ms": result["p50_ms"], "failed": result["errors"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved repeats; medians are reported")
    parser.add_argument("--wrk-seconds", type=int, default=1, help="duration of each wrk run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    base = scratch_dir("groundwork-bench-smoke-")
    port, pid_file = _start_nginx(base)
    url = f"http://127.0.0.1:{port}"
    runs: dict[str, list[dict]] = {"engine": [], "wrk": []}
    try:
        asyncio.run(_engine_once(port))  # warm-up: imports, nginx workers
        for number in range(1, args.rounds + 1):
            engine = asyncio.run(_engine_once(port))
            reference = _wrk_once(url, args.wrk_seconds)
            runs["engine"].append(engine)
            runs["wrk"].append(reference)
            print(
                f"  round {number}: engine {engine['wall_ms']:6.1f} ms wall, p50 {engine['p50_ms']:.3f} ms | "
                f"wrk {reference['wall_ms']:6.1f} ms for 200, p50 {reference['p50_ms']:.3f} ms",
                file=sys.stderr,
            )
    finally:
        subprocess.run(["kill", pid_file.read_text().strip()], check=False)
        shutil.rmtree(base, ignore_errors=True)

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    figures = {
        "requests": REQUESTS,
        "concurrency": CONCURRENCY,
        "rounds": args.rounds,
        "engine_wall_ms": median("engine", "wall_ms"),
        "engine_p50_ms": median("engine", "p50_ms"),
        "wrk_wall_ms": median("wrk", "wall_ms"),
        "wrk_p50_ms": median("wrk", "p50_ms"),
        "failed": sum(run["failed"] for runs_ in runs.values() for run in runs_),
    }
    figures["wall_ratio"] = figures["engine_wall_ms"] / figures["wrk_wall_ms"]
    figures["p50_ratio"] = figures["engine_p50_ms"] / figures["wrk_p50_ms"]
    wall_ok = figures["engine_wall_ms"] / 1000 < WALL_GOAL_S
    p50_ok = figures["p50_ratio"] <= P50_RATIO_GOAL
    print(f"200 requests at concurrency 10 against nginx return 200; medians of {args.rounds} interleaved rounds")
    print(f"{'':8} {'wall ms':>9} {'p50 ms':>8}")
    print(f"{'engine':8} {figures['engine_wall_ms']:9.1f} {figures['engine_p50_ms']:8.3f}")
    print(f"{'wrk':8} {figures['wrk_wall_ms']:9.1f} {figures['wrk_p50_ms']:8.3f}")
    print(f"{'ratio':8} {figures['wall_ratio']:9.2f} {figures['p50_ratio']:8.2f}")
    print(f"goal: 200 requests under {WALL_GOAL_S * 1000:.0f} ms: {'met' if wall_ok else 'MISSED'}")
    print(f"goal: engine p50 within {P50_RATIO_GOAL:g}x wrk's: {'met' if p50_ok else 'MISSED'}")
    if figures["failed"]:
        print(f"warning: {figures['failed']} requests failed during the benchmark", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
