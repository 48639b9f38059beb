"""Outage benchmark: how long the API takes to answer 503 when its database is paused or stopped, against its deadline.

Run with `.venv/bin/python -m bench.outage [--samples N --deadline S]`. The tests only check that an answer comes
(tests/app/test_resilience.py); this prints how soon, as a ratio to the configured DATABASE_TIMEOUT.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator

import httpx

from bench.dataplane import launch
from tests.app.tokens import admin_token
from tests.harness import PgBouncer, Postgres, migrate, scratch_dir


@contextlib.contextmanager
def _paused(server: Postgres) -> Iterator[None]:
    """Freeze every process of the cluster: connections stay open but nothing answers."""
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False)
    pids = [postmaster, *map(int, children.stdout.split())]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def _seconds_to_answer(url: str, token: str, path: str) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    if path == "/map":
        response = httpx.post(url + path, json={"user_id": "outage", "practice": {}}, headers=headers, timeout=60)
    else:
        response = httpx.get(url + path, headers=headers, timeout=60)
    took = time.perf_counter() - started
    if response.status_code != 503:
        raise SystemExit(f"bench: {path} answered {response.status_code} during the outage, not 503")
    return took


def _wait_healthy(url: str, token: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/heartbeat", headers={"Authorization": f"Bearer {token}"}, timeout=5).is_success:
                return
        time.sleep(0.1)
    raise SystemExit("bench: the API did not recover within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=5, help="requests per outage kind and path")
    parser.add_argument("--deadline", type=float, default=1.0, help="the API's DATABASE_TIMEOUT in seconds")
    args = parser.parse_args()

    base = scratch_dir("groundwork-outage-")
    postgres = Postgres(base / "pg")
    bouncer = PgBouncer(postgres, base / "pgbouncer", query_wait_timeout=60)
    token = admin_token(ttl=3600)
    figures: dict[tuple[str, str], list[float]] = {}
    server = None
    try:
        postgres.init()
        bouncer.start()
        migrate(bouncer.url())
        server = launch("gunicorn", bouncer.url(), base, WORKERS="1", DATABASE_TIMEOUT=str(args.deadline))
        _wait_healthy(server.url, token)
        for path in ("/heartbeat", "/map"):
            with _paused(postgres):
                figures[("paused", path)] = [_seconds_to_answer(server.url, token, path) for _ in range(args.samples)]
            _wait_healthy(server.url, token)
        postgres.stop("fast")
        for path in ("/heartbeat", "/map"):
            figures[("stopped", path)] = [_seconds_to_answer(server.url, token, path) for _ in range(args.samples)]
    finally:
        if server is not None:
            server.stop()
        bouncer.stop()
        postgres.destroy()
        shutil.rmtree(base, ignore_errors=True)

    print(f"time to a 503 through PgBouncer, DATABASE_TIMEOUT={args.deadline:g} s, {args.samples} samples each")
    print(f"{'database':10} {'request':12} {'median s':>9} {'max s':>7} {'max/deadline':>13}")
    for (kind, path), values in figures.items():
        worst = max(values)
        print(f"{kind:10} {path:12} {statistics.median(values):9.3f} {worst:7.3f} {worst / args.deadline:13.2f}")


if __name__ == "__main__":
    main()
