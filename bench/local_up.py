"""Times `infra up --stack local` from nothing with the plan cached, with nothing changed, and after one setting change
that restarts one service (PgBouncer's borrow timeout), on a copy of this working tree; then, under
`infra up --stack local --watch`, the time from saving an edit of the app to the new code answering through nginx.

Run with `.venv/bin/python -m bench.local_up [--rounds N]`; the machine's load is printed with the figures, since the
local stack's processes share its cores with whatever else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.local_stack import export
from tests.harness import scratch_dir

FROM_NOTHING_TARGET_S = 6.0
EDIT_TARGET_S = 2.0
LIVEZ = '_LIVEZ = b\'{"status":"ok"}\''
"""The line of app_image/groundwork_api/app.py the edits change: what GET /livez answers."""
SETTING = "groundwork:proxyBorrowTimeoutSeconds:"
"""A setting whose change restarts one service (PgBouncer) and nothing else."""


def infra(tree: Path, env: dict[str, str], *args: str) -> tuple[float, dict]:
    """Wall time of one `infra ... --json` in a fresh process, and its document."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args, "--json"], cwd=tree, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"infra {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return seconds, json.loads(done.stdout)


def set_borrow_timeout(tree: Path, seconds: int) -> None:
    settings = tree / "Pulumi.local.yaml"
    lines = settings.read_text().splitlines()
    found = [i for i, line in enumerate(lines) if line.strip().startswith(SETTING)]
    if not found:
        raise SystemExit(f"Pulumi.local.yaml has no {SETTING!r}; update SETTING")
    lines[found[0]] = f"  {SETTING} {seconds}"
    settings.write_text("\n".join(lines) + "\n")


def from_nothing_of(ref: str, base: Path) -> float:
    """`up` from nothing of a commit of this repository, in a tree and a stack of its own, then destroyed."""
    tree = export(ref, base / "tree")
    env = {
        **os.environ,
        "INFRA_LOCAL_DIR": str(base / "stack"),
        "INFRA_PROJECT_DIR": str(tree),
        "PYTHONPATH": str(tree),
    }
    try:
        return infra(tree, env, "up", "--stack", "local")[0]
    finally:
        subprocess.run([sys.executable, "-m", "cli", "destroy", "--stack", "local", "--yes"], cwd=tree, env=env,
                       capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def edit_latencies(tree: Path, env: dict[str, str], edits: int) -> list[float]:
    """Seconds from saving an edit of the app to GET /livez through nginx answering with the edited body."""
    import httpx

    watching = subprocess.Popen(
        [sys.executable, "-m", "cli", "up", "--stack", "local", "--watch"], cwd=tree, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    latencies = []
    try:
        assert watching.stderr is not None
        for line in watching.stderr:
            if "watching" in line:
                break
        else:
            raise SystemExit("infra up --watch ended before watching")
        outputs = infra(tree, env, "outputs", "--stack", "local")[1]["outputs"]
        app = tree / "app_image" / "groundwork_api" / "app.py"
        with httpx.Client(base_url=outputs["service_url"], verify=outputs["ca_certificate"], timeout=10) as client:
            current = LIVEZ
            for number in range(edits):
                edited = LIVEZ.replace("ok", f"ok-{number}")
                app.write_text(app.read_text().replace(current, edited, 1))
                saved, current = time.perf_counter(), edited
                while f"ok-{number}" not in client.get("/livez").text:
                    if time.perf_counter() - saved > 120:
                        raise SystemExit("the edited app did not answer within 120 s")
                    time.sleep(0.01)
                latencies.append(time.perf_counter() - saved)
                for line in watching.stderr:  # the swap finishes (back on the stack's port) before the next edit
                    if "restarted on the edited app" in line or "error" in line:
                        break
    finally:
        watching.send_signal(signal.SIGINT)
        watching.wait(timeout=120)
    return latencies


def changed(document: dict) -> list[str]:
    return [s["name"] for s in document["services"] if s["action"] != "same"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", help="also time `up` from nothing of this git ref (e.g. main), interleaved")
    args = parser.parse_args()
    base = scratch_dir("groundwork-bench-up-")
    tree = export(None, base / "tree")
    env = {**os.environ, "INFRA_LOCAL_DIR": str(base / "stack"), "INFRA_PROJECT_DIR": str(tree)}
    env.pop("INFRA_CACHE_DIR", None)
    figures: dict[str, list[float]] = {}
    notes: dict[str, str] = {}
    load_before = os.getloadavg()[0]
    try:
        set_borrow_timeout(tree, 3)
        planned, _ = infra(tree, env, "preview", "--stack", "local")  # plans once, into the tree's cache
        figures["plan (once, cache empty)"] = [planned]
        for round_number in range(args.rounds):
            seconds, document = infra(tree, env, "up", "--stack", "local")
            if not document["plan"]["reused"]:
                raise SystemExit("the plan was not reused after destroy: the cache does not survive it")
            figures.setdefault("up from nothing, plan cached", []).append(seconds)
            seconds, document = infra(tree, env, "up", "--stack", "local")
            assert changed(document) == [], changed(document)
            figures.setdefault("up, nothing changed", []).append(seconds)
            set_borrow_timeout(tree, 4 + round_number)  # a value not planned before: planned, then applied
            seconds, document = infra(tree, env, "up", "--stack", "local")
            notes["up after one setting change"] = f"restarted {', '.join(changed(document))}; plan planned"
            figures.setdefault("up after one setting change", []).append(seconds)
            figures.setdefault("  of which planning", []).append(document["plan"]["seconds"])
            set_borrow_timeout(tree, 3)
            seconds, document = infra(tree, env, "up", "--stack", "local")
            figures.setdefault("up after one setting change, plan cached", []).append(seconds)
            notes["up after one setting change, plan cached"] = f"restarted {', '.join(changed(document))}"
            infra(tree, env, "destroy", "--stack", "local", "--yes")
            if args.against:
                step = f"{args.against}: up from nothing"
                figures.setdefault(step, []).append(from_nothing_of(args.against, base / f"ref-{round_number}"))
        figures["--watch: save to the edited app answering"] = edit_latencies(tree, env, args.rounds)
    finally:
        subprocess.run([sys.executable, "-m", "cli", "destroy", "--stack", "local", "--yes"], cwd=tree, env=env,
                       capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
    print(f"machine: {os.cpu_count()} CPUs, 1-minute load {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"{'step':44} {'median s':>9} {'min s':>7}  rounds")
    for step, values in figures.items():
        print(f"{step:44} {statistics.median(values):>9.2f} {min(values):>7.2f}  {len(values)}  {notes.get(step, '')}")
    median = statistics.median(figures["up from nothing, plan cached"])
    verdict = "met" if median < FROM_NOTHING_TARGET_S else "NOT met"
    print(f"target: up from nothing with the plan cached < {FROM_NOTHING_TARGET_S:g} s: {verdict}")
    median = statistics.median(figures["--watch: save to the edited app answering"])
    verdict = "met" if median < EDIT_TARGET_S else "NOT met"
    print(f"target: an app edit answering within {EDIT_TARGET_S:g} s of the save: {verdict}")


if __name__ == "__main__":
    main()
