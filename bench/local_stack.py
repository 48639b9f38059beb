"""Times `infra up --stack local` (from nothing, with nothing changed, after one environment change) and `destroy`,
for this tree and for the previous design (hand-written constants, before the plan was realised) in the same run.

Run with `.venv/bin/python -m bench.local_stack [--rounds N] [--previous REF]`; each round uses fresh directories.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from tests.harness import copy_from_repository, scratch_dir

REPO = Path(__file__).resolve().parent.parent
COPIED = ("cli", "stacks", "infra", "app_image", "Pulumi.yaml", "Pulumi.local.yaml")
TARGETS = {"up from nothing": 10.0, "up, nothing changed": 1.0, "up after one env change": 3.0}
TARGETS.update({f"back after kill -9 ({name})": 2.0 for name in ("postgres", "pgbouncer", "cache", "api", "worker")})
PID_FILES = {
    "postgres": "postgres/pgdata/postmaster.pid",
    "pgbouncer": "pgbouncer/pgbouncer.pid",
    "cache": "cache/redis.pid",
    "api": "run/api.pid",
    "worker": "run/worker.pid",
}
ENV_LINE = '"WORKERS": str(workers(s.service_cpu)),'
"""The API's environment in stacks/program.py, where the bench adds one variable."""


def previous_design() -> str:
    """The commit before the one that made the local stack realise the plan."""
    introduced = subprocess.run(
        ["git", "log", "-n1", "--format=%H", "-S", "planner.local_spec", "--", "cli/local/stack.py"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return f"{introduced}~1"


def export(ref: str | None, into: Path) -> Path:
    """A tree of the project: this working tree (ref None) or a commit, unpacked from git."""
    into.mkdir(parents=True)
    if ref is None:
        return copy_from_repository(COPIED, into)
    archive = subprocess.run(["git", "archive", ref], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def timed(args: list[str], tree: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(tree: Path, stack_dir: Path, figures: dict[str, list[float]], *, realises_plan: bool) -> None:
    infra = [sys.executable, "-m", "cli"]
    env = {**os.environ, "INFRA_LOCAL_DIR": str(stack_dir), "INFRA_PROJECT_DIR": str(tree), "PYTHONPATH": str(tree)}
    try:
        figures.setdefault("infra --help (reference)", []).append(timed([*infra, "--help"], tree, env))
        figures.setdefault("up from nothing", []).append(timed([*infra, "up", "--stack", "local"], tree, env))
        figures.setdefault("up, nothing changed", []).append(timed([*infra, "up", "--stack", "local"], tree, env))
        if realises_plan:
            program = tree / "stacks" / "program.py"
            text = program.read_text()
            if ENV_LINE not in text:
                raise SystemExit(f"stacks/program.py has no {ENV_LINE!r} to add a variable beside; update ENV_LINE")
            program.write_text(text.replace(ENV_LINE, f'"BENCH": "{time.time_ns()}", {ENV_LINE}', 1))
            step = [*infra, "up", "--stack", "local"]
            figures.setdefault("up after one env change", []).append(timed(step, tree, env))
        if realises_plan:
            for name, seconds in restart_times(stack_dir).items():
                figures.setdefault(f"back after kill -9 ({name})", []).append(seconds)
        figures.setdefault("destroy", []).append(timed([*infra, "destroy", "--stack", "local", "--yes"], tree, env))
    finally:
        subprocess.run([*infra, "destroy", "--stack", "local", "--yes"], cwd=tree, env=env, capture_output=True)


def restart_times(stack_dir: Path) -> dict[str, float]:
    """Seconds from SIGKILL of each service to its restart by the supervisor (counted in restarts.json)."""
    import signal

    from cli.local.processes import read_pid
    from cli.local.realisers import live_slot
    from cli.local.supervisor import read_records

    times = {}
    for name, relative in PID_FILES.items():
        before = read_records(stack_dir).get(name, {}).get("count", 0)
        if name == "api":  # the slot the last release moved the API to (cli/local/release_flow.py)
            applied = json.loads((stack_dir / "state.json").read_text()).get("applied", {})
            relative = f"run/{live_slot(applied)}.pid"
        pid = read_pid(stack_dir / relative)
        if pid is None:
            raise RuntimeError(f"bench: {name} left no pid in {stack_dir / relative}")
        started = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        while read_records(stack_dir).get(name, {}).get("count", 0) == before:
            if time.perf_counter() - started > 30:
                raise SystemExit(f"{name} was not restarted within 30 s")
            time.sleep(0.01)
        times[name] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--previous", help="git ref of the previous design (default: found from history)")
    args = parser.parse_args()
    previous = args.previous or previous_design()
    designs: dict[str, dict[str, list[float]]] = {"plan realised": {}, f"previous ({previous})": {}}
    for _ in range(args.rounds):
        for name, figures in designs.items():
            base = scratch_dir("groundwork-bench-local-")
            try:
                tree = export(None if name == "plan realised" else previous, base / "tree")
                measure(tree, base / "stack", figures, realises_plan=name == "plan realised")
            finally:
                shutil.rmtree(base, ignore_errors=True)
    current, before = designs.values()
    print(f"{'step':26} {'now s':>7} {'before s':>9} {'now/before':>10}  target")
    for step, values in current.items():
        median = statistics.median(values)
        old = statistics.median(before[step]) if step in before else None
        ratio = f"{median / old:>10.2f}" if old else f"{'n/a':>10}"
        target = TARGETS.get(step)
        verdict = f"< {target:g} s: {'met' if median < target else 'NOT met'}" if target else ""
        print(f"{step:26} {median:>7.2f} {old if old is None else round(old, 2)!s:>9} {ratio}  {verdict}")
    print("(the previous design never read the program, so a change to it had nothing to reach)")


if __name__ == "__main__":
    main()
