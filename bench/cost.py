"""Time to price the prod plan beyond the plan itself: price tables read from disk, the estimate, JSON and table."""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import statistics
import time

TARGET_SECONDS = 1.0
"""Budget for pricing a plan once it exists, with the price cache on disk (no API call)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)

    from rich.console import Console

    from cli.cost.estimate import estimate
    from cli.cost.render import render_estimate
    from cli.cost.sources import offline_tables
    from cli.plan.build import plan_stack
    from stacks.settings import PROJECT_DIR

    started = time.perf_counter()
    plan = plan_stack(args.stack, PROJECT_DIR)
    plan_seconds = time.perf_counter() - started
    today = datetime.datetime.now(datetime.UTC).date()
    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        result = estimate(plan, offline_tables(PROJECT_DIR, today))
        json.dumps(result.to_json())
        render_estimate(Console(file=io.StringIO(), width=160), result)
        timings.append(time.perf_counter() - started)
    median, worst = statistics.median(timings), max(timings)
    print(f"stack {args.stack}: {len(result.resources)} resources, plan {plan_seconds:.2f} s (not counted)")
    print(f"pricing beyond the plan, {args.runs} runs: median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms")
    verdict = "met" if worst < TARGET_SECONDS else "MISSED"
    print(f"target {TARGET_SECONDS:.1f} s: {verdict}; load {os.getloadavg()[0]:.2f}")
    print(f"total {result.total:.2f} USD/month, partial: {result.partial}")
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
