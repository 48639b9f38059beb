"""A release of the local API under continuous requests: runs a command (by default `infra up --stack local`) while
one client sends GET /heartbeat without pause through the stack's endpoint, and prints what the client saw.

Run with `.venv/bin/python -m bench.release_under_load [-- COMMAND...]` in a project whose local stack is up; the
figures are the requests sent, the errors (see tests/continuous_requests.py for what counts), and the requests sent
again because the server closed an idle keep-alive connection under them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from tests.continuous_requests import ContinuousRequests

INFRA = [sys.executable, "-m", "cli"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", nargs="*", help="what to run under load (default: infra up --stack local)")
    parser.add_argument(
        "--rate", type=float, help="requests a second at most (the stack's per-client limit answers 429 above it)"
    )
    args = parser.parse_args()
    command = args.command or [*INFRA, "up", "--stack", "local"]
    outputs = json.loads(
        subprocess.run([*INFRA, "outputs", "--stack", "local", "--json"], capture_output=True, check=True).stdout
    )["outputs"]
    started = time.perf_counter()
    pause = 1 / args.rate if args.rate else 0.0
    with ContinuousRequests(outputs["service_url"], outputs["ca_certificate"], pause=pause) as load:
        code = subprocess.run(command, check=False).returncode
    seconds = time.perf_counter() - started
    print(f"{' '.join(command)}: exit {code} in {seconds:.1f} s")
    print(f"under continuous requests: {load.summary()}")
    for line in [*load.retried, *load.errors]:
        print(f"  {line}")
    sys.exit(1 if load.errors else 0)


if __name__ == "__main__":
    main()
