"""Wall time of building the prod program under the strict mock, in a fresh interpreter, against a reference."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

TARGET_SECONDS = 3.0
"""Budget for one prod build, imports included, on the reference 2-core machine."""


def _once(stack: str) -> dict:
    """Runs in a fresh interpreter: imports, settings, the whole program under mocks."""
    started = time.perf_counter()
    from tests.mocks import run, settings_for

    imported = time.perf_counter()
    recording = run(settings_for(stack))
    finished = time.perf_counter()
    providers = [r for r in recording.resources if r.type.startswith("pulumi:providers:")]
    components = [r for r in recording.resources if not r.custom]
    return {
        "import_s": imported - started,
        "build_s": finished - imported,
        "resources": len(recording.resources) - len(components) - len(providers),
        "components": len(components),
        "providers": len(providers),
        "by_type": recording.counts(),
    }


def _wall(command: list[str]) -> tuple[float, str, float]:
    """Wall time, standard output and CPU time (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, done.stdout, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.once:
        print(json.dumps(_once(args.stack)), flush=True)
        # The build is over once its outputs have resolved; interpreter teardown is not part of it.
        os._exit(0)

    load_before = os.getloadavg()[0]
    reference = [_wall([sys.executable, "-c", "import pulumi"])[0] for _ in range(args.runs)]
    walls, cpus, details = [], [], []
    for _ in range(args.runs):
        wall, out, cpu = _wall([sys.executable, "-m", "bench.program_build", "--once", "--stack", args.stack])
        walls.append(wall)
        cpus.append(cpu)
        details.append(json.loads(out))
    best = min(walls)
    last = details[-1]
    print(f"machine: {os.cpu_count()} CPUs, 1-minute load {load_before:.2f} before and {os.getloadavg()[0]:.2f} after")
    print(f"reference: python -c 'import pulumi'  median {statistics.median(reference):.2f} s")
    print(
        f"{args.stack} program build under mocks (fresh interpreter to resolved outputs, {args.runs} runs): "
        f"best {best:.2f} s, median {statistics.median(walls):.2f} s, target < {TARGET_SECONDS:.1f} s"
    )
    print(f"  CPU time (user + system): best {min(cpus):.2f} s, median {statistics.median(cpus):.2f} s")
    print(
        f"  last run: harness imports {last['import_s']:.2f} s, "
        f"program (provider modules included) {last['build_s']:.2f} s; "
        f"best is {best / statistics.median(reference):.1f}x the reference"
    )
    print(
        f"  {last['resources']} resources in {last['components']} components, {last['providers']} explicit provider(s)"
    )
    for token, count in last["by_type"].items():
        print(f"  {count:4d}  {token}")
    return 0 if best < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
