"""The load generator's own ceiling: the highest rate `infra load` sends on time against nginx, beside wrk.

Run with `make bench` (installs nginx and wrk) or `.venv/bin/python -m bench.loadgen [--seconds S]`.
nginx answers `return 200` with a heartbeat from a temporary config on a free loopback port. wrk (closed loop, as
many requests as its connections can carry) gives the machine's reference throughput; `infra load` is then asked for
rising rates, and the highest one it sends with correct timing is reported as a ratio to wrk's. Correct timing:
the achieved rate within 2 % of the target, at most 5 % of sends more than 5 ms late, none given up, no errors.
(`infra load` itself warns from 1 %; the bench allows for a shared machine's pauses, which make a few sends late at
any rate: a generator past its ceiling makes nearly all of them late.)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from cli.loadgen.flow import run_load
from cli.loadgen.options import LoadGates, LoadOptions
from cli.loadgen.report import RATE_SHORTFALL, LoadSummary, percentiles
from cli.smoke.endpoint import from_url
from tests.cli.loadgen.servers import nginx

LATE_ALLOWED = 0.05


def wrk(url: str, seconds: int, connections: int = 64) -> float:
    """wrk's requests per second against the URL (two threads, keep-alive)."""
    binary = shutil.which("wrk")
    if binary is None:
        sys.exit("bench: wrk is missing; run `make bench` (it installs nginx and wrk)")
    out = subprocess.run(
        [binary, "-t2", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        sys.exit(f"bench: wrk printed no rate:\n{out}")
    return float(match.group(1))


def on_time(summary: LoadSummary) -> bool:
    totals = summary.totals
    return (
        summary.achieved_rate >= summary.options.rate * (1 - RATE_SHORTFALL)
        and summary.late_share <= LATE_ALLOWED
        and totals["unsent"] == 0
        and totals["failed"] == 0
    )


def step(url: str, rate: float, seconds: float, processes: int | None) -> LoadSummary:
    options = LoadOptions(
        rate=rate,
        duration_s=seconds,
        warmup_s=0.5,
        processes=processes,
        connections=256,
        weights={"heartbeat": 1},
        gates=LoadGates(p95_ms=None),
    )
    return run_load(from_url(url, token=None, expect_redirect=False), options)


def ceiling(url: str, seconds: float, processes: int | None, start: float, resolution: float) -> tuple[float, list]:
    """Double the rate until the timing goes wrong, then bisect; the highest rate sent on time and every step."""
    rows: list[tuple[float, LoadSummary, bool]] = []

    def trial(rate: float) -> bool:
        summary = step(url, rate, seconds, processes)
        ok = on_time(summary)
        rows.append((rate, summary, ok))
        figures = percentiles(summary.step.merged.latency)
        print(
            f"  {rate:>8.0f}/s  achieved {summary.achieved_rate:>8.0f}  late {summary.late_share * 100:5.1f} %  "
            f"p99 {figures['p99'] or 0:7.1f} ms  cpu {summary.cpu_share * 100:3.0f} %  "
            f"{summary.step.processes} process(es)  {'on time' if ok else 'late'}",
            flush=True,
        )
        return ok

    low, high, rate = 0.0, None, start
    while high is None:
        if trial(rate):
            low, rate = rate, rate * 2
        else:
            high = rate
    while low and high - low > resolution * low:
        middle = round((low + high) / 2)
        if trial(middle):
            low = middle
        else:
            high = middle
    return low, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per rate tried")
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--processes", type=int, default=None, help="generator processes (default: by rate)")
    parser.add_argument("--start", type=float, default=500.0, help="first rate tried")
    parser.add_argument("--resolution", type=float, default=0.1)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-loadgen-"))
    try:
        with nginx(base) as port:
            url = f"http://127.0.0.1:{port}/heartbeat"
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"nginx `return 200` on 127.0.0.1:{port}, {os.cpu_count()} CPU(s), load average {load}", flush=True)
            reference = [wrk(url, args.wrk_seconds)]
            print(f"wrk: {reference[0]:.0f} req/s (2 threads, 64 connections, closed loop)", flush=True)
            print("infra load, rising rates:", flush=True)
            best, _ = ceiling(url, args.seconds, args.processes, args.start, args.resolution)
            reference.append(wrk(url, args.wrk_seconds))
            print(f"wrk again: {reference[1]:.0f} req/s", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    wrk_rate = statistics.mean(reference)
    print()
    print(f"wrk (mean of two runs)               {wrk_rate:>10.0f} req/s")
    print(f"infra load, highest rate on time     {best:>10.0f} req/s")
    print(f"ratio infra load / wrk               {best / wrk_rate:>10.3f}")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (other work on the machine "
          "takes the generator's CPU when its sends are due)")  # fmt: skip


if __name__ == "__main__":
    main()
