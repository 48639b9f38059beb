"""Times `infra up --stack local` from nothing and when already up, and `infra destroy`, against `infra --help`.

Run with `.venv/bin/python -m bench.local_stack [--rounds N]`; each round uses a fresh directory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.harness import scratch_dir

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"up from nothing": 10.0, "up when already up": 1.0}


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    infra = [sys.executable, "-m", "cli"]
    figures: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        base = scratch_dir("groundwork-bench-local-")
        env = {**os.environ, "INFRA_LOCAL_DIR": str(base / "stack"), "INFRA_PROJECT_DIR": str(REPO)}
        try:
            figures.setdefault("infra --help (reference)", []).append(timed([*infra, "--help"], env))
            figures.setdefault("up from nothing", []).append(timed([*infra, "up", "--stack", "local"], env))
            figures.setdefault("up when already up", []).append(timed([*infra, "up", "--stack", "local"], env))
            figures.setdefault("destroy", []).append(timed([*infra, "destroy", "--stack", "local", "--yes"], env))
        finally:
            subprocess.run([*infra, "destroy", "--stack", "local", "--yes"], cwd=REPO, env=env, capture_output=True)
            shutil.rmtree(base, ignore_errors=True)
    reference = statistics.median(figures["infra --help (reference)"])
    print(f"{'step':26} {'median s':>9} {'x --help':>9}  target")
    for step, values in figures.items():
        median = statistics.median(values)
        target = TARGETS.get(step)
        verdict = f"< {target:g} s: {'met' if median < target else 'NOT met'}" if target else ""
        print(f"{step:26} {median:>9.2f} {median / reference:>9.1f}  {verdict}")


if __name__ == "__main__":
    main()
