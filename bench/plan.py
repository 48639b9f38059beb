"""Wall time of `infra plan --stack prod` in a fresh process, with the resource count and a reference."""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

TARGET_SECONDS = 3.0
"""Budget for one `infra plan`, interpreter start and exit included."""


def _timed(command: list[str]) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system) and standard output of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    infra = str(pathlib.Path(sys.executable).with_name("infra"))
    load = os.getloadavg()[0]
    reference = [_timed([sys.executable, "-c", "import pulumi"])[0] for _ in range(args.runs)]
    walls, cpus, count = [], [], 0
    for _ in range(args.runs):
        wall, cpu, out = _timed([infra, "plan", "--stack", args.stack, "--json"])
        walls.append(wall)
        cpus.append(cpu)
        count = json.loads(out)["resource_count"]
    best, median = min(walls), statistics.median(walls)
    print(f"machine: {os.cpu_count()} CPUs, 1-minute load {load:.2f} before and {os.getloadavg()[0]:.2f} after")
    print(f"reference: python -c 'import pulumi'  median {statistics.median(reference):.2f} s")
    print(
        f"infra plan --stack {args.stack} --json ({args.runs} runs): best {best:.2f} s, median {median:.2f} s, "
        f"CPU median {statistics.median(cpus):.2f} s, target < {TARGET_SECONDS:.1f} s"
    )
    print(f"  {count} resources; best is {best / statistics.median(reference):.1f}x the reference")
    return 0 if best < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
