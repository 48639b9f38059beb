"""Start-up time of `infra --help` against `python -c pass`, measured in the same run."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 0.3


def infra_command() -> list[str]:
    """The installed console script when there is one, else the same app through `python -m cli`."""
    script = Path(sys.executable).parent / "infra"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "cli"]


def wall_time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def measure(runs: int) -> dict[str, list[float]]:
    """Interleave the commands run by run, so a slow moment on the machine hits them all alike."""
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="100")
    infra = infra_command()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "infra --help": [*infra, "--help"],
        "infra up --help": [*infra, "up", "--help"],
        "infra destroy --help": [*infra, "destroy", "--help"],
    }
    for argv in commands.values():
        wall_time(argv, env)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            samples[name].append(wall_time(argv, env))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21, help="interleaved runs per command (default 21)")
    args = parser.parse_args(argv)
    samples = measure(args.runs)
    baseline = statistics.median(samples["python -c pass"])
    print(f"cli start-up, median of {args.runs} interleaved runs ({' '.join(infra_command())})")
    print(f"{'command':<24}{'median s':>10}{'min s':>10}{'max s':>10}{'x python':>10}")
    over = []
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<24}{median:>10.3f}{min(values):>10.3f}{max(values):>10.3f}{median / baseline:>10.1f}")
        if name.startswith("infra") and median > BUDGET_SECONDS:
            over.append(name)
    if over:
        print(f"over the {BUDGET_SECONDS} s budget: {', '.join(over)}")
        return 1
    print(f"all help commands are under the {BUDGET_SECONDS} s budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
