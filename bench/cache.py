"""Cache and worker benchmark: reads served from the cache against reads from PostgreSQL, and the worker's pace.

Run with `.venv/bin/python -m bench.cache [--rounds N --seconds S --events M]` (needs wrk, redis-server, PostgreSQL and
PgBouncer; `make bench` installs wrk). Two copies of the API run behind one PgBouncer, one with the cache and one
without; wrk reads the same seeded records from each in interleaved rounds (A B A B), and medians and their ratio are
printed. Then the worker (`python -m groundwork_api.worker`, as its service runs it) applies M events written to the
outbox in one transaction, and its events per second, relay included, are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from bench.dataplane import _mint_token, launch, process_tree_cpu_seconds, wrk
from tests.harness import APP_DIR, PgBouncer, Postgres, scratch_dir
from tests.redis_server import RedisServer

READ_SCRIPT = """
request = function()
  local id = "bench-read-" .. math.random(0, USERS - 1)
  return wrk.format("GET", "/map/" .. id, {["Authorization"] = "Bearer TOKEN"})
end
"""
CONNECTIONS = 20
RECORD_EVENT = "INSERT INTO event_outbox (user_id, version) VALUES (%s, %s)"


def seed(url: str, token: str, users: int) -> None:
    """One record per user, with a practice of a realistic size (about 1 kB)."""
    practice = {"pieces": [{"name": f"piece {n}", "minutes": n, "tempo": 60 + n} for n in range(20)]}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        for n in range(users):
            response = client.post("/map", json={"user_id": f"bench-read-{n}", "practice": practice})
            response.raise_for_status()


def read_from(url: str, token: str) -> str:
    """The X-Cache header of one read: proof of where the variant's reads come from."""
    response = httpx.get(f"{url}/map/bench-read-0", headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response.headers["x-cache"]


def worker_pace(postgres: Postgres, cache: RedisServer, base: Path, events: int) -> dict:
    """Events per second the worker applies, from the commit of `events` outbox rows to the last one applied."""
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": postgres.url(),
        "CACHE_URL": cache.url,
        "CACHE_PASSWORD": cache.password,
    }
    with (base / "worker.log").open("ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "groundwork_api.worker"], cwd=APP_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        with psycopg.connect(postgres.url(), autocommit=True) as conn:

            def applied() -> int:
                row = conn.execute("SELECT count(*) FROM processed_events").fetchone()
                return row[0] if row else 0

            before = applied()
            cpu_before = process_tree_cpu_seconds(worker.pid)
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(RECORD_EVENT, [(f"bench-event-{n % 1000}", n + 1) for n in range(events)])
            started = time.perf_counter()
            deadline = started + 600
            while applied() < before + events:
                if worker.poll() is not None or time.perf_counter() > deadline:
                    raise SystemExit(f"bench: the worker stopped or stalled; see {base / 'worker.log'}")
                time.sleep(0.05)
            seconds = time.perf_counter() - started
            cpu = process_tree_cpu_seconds(worker.pid) - cpu_before
    finally:
        worker.terminate()
        worker.wait(30)
    return {
        "events": events,
        "seconds": seconds,
        "events_per_s": events / seconds,
        "cpu_us_per_event": cpu / events * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repeats; medians are reported")
    parser.add_argument("--seconds", type=int, default=4, help="duration of each wrk run")
    parser.add_argument("--users", type=int, default=1000, help="records read at random")
    parser.add_argument("--events", type=int, default=20000, help="events the worker applies")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    base = scratch_dir("groundwork-bench-cache-")
    postgres = Postgres(base / "pg")
    bouncer = PgBouncer(postgres, base / "pgbouncer")
    cache = RedisServer(base / "redis", password=secrets.token_urlsafe(16))
    servers = {}
    token = _mint_token()
    runs: dict[str, list[dict]] = {}
    try:
        postgres.init()
        bouncer.start()
        cache.start()
        servers["cache"] = launch("gunicorn", bouncer.url(), base, CACHE_URL=cache.url, CACHE_PASSWORD=cache.password)
        servers["postgresql"] = launch("gunicorn", bouncer.url(), base)
        seed(servers["cache"].url, token, args.users)
        sources = {name: read_from(server.url, token) for name, server in servers.items()}
        if sources != {"cache": "hit", "postgresql": "off"}:
            raise SystemExit(f"bench: reads do not come from where they should: {sources}")
        script = base / "read.lua"
        script.write_text(READ_SCRIPT.replace("TOKEN", token).replace("USERS", str(args.users)))
        print(f"bench: warming up; {args.rounds} interleaved rounds of {args.seconds} s per run", file=sys.stderr)
        for server in servers.values():
            wrk(f"{server.url}/map/x", CONNECTIONS, 1, script)
        names = list(servers)
        for round_number in range(args.rounds):
            for name in names if round_number % 2 == 0 else names[::-1]:
                pid = servers[name].process.pid
                before = process_tree_cpu_seconds(pid)
                result = wrk(f"{servers[name].url}/map/x", CONNECTIONS, args.seconds, script)
                result["cpu_us"] = (process_tree_cpu_seconds(pid) - before) / (result["rps"] * args.seconds) * 1e6
                runs.setdefault(name, []).append(result)
                print(f"  round {round_number + 1} {name:10} {result['rps']:>9.0f} reads/s", file=sys.stderr)
        for server in servers.values():
            server.stop()
        pace = worker_pace(postgres, cache, base, args.events)
    finally:
        for server in servers.values():
            server.stop()
        cache.stop()
        bouncer.stop()
        postgres.destroy()
        shutil.rmtree(base, ignore_errors=True)
    report(runs, pace, args)


def report(runs: dict, pace: dict, args) -> None:
    medians = {
        name: {key: statistics.median(r[key] for r in results) for key in ("rps", "p50_ms", "p99_ms", "cpu_us")}
        for name, results in runs.items()
    }
    errors = {name: sum(r["errors"] for r in results) for name, results in runs.items()}
    print(f"\nGET /map/{{user_id}}, {CONNECTIONS} connections, {args.users} records, medians of {args.rounds} rounds")
    print(f"{'reads from':11} {'reads/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/read':>12} {'errors':>6}")
    for name, m in medians.items():
        print(
            f"{name:11} {m['rps']:>8.0f} {m['p50_ms']:>7.2f} {m['p99_ms']:>7.2f} {m['cpu_us']:>12.0f} {errors[name]:>6}"
        )
    ratio = medians["cache"]["rps"] / medians["postgresql"]["rps"]
    cpu_ratio = medians["postgresql"]["cpu_us"] / medians["cache"]["cpu_us"]
    print(f"cache / PostgreSQL: {ratio:.2f}x the reads per second, {cpu_ratio:.2f}x less API CPU per read")
    print(
        f"\nworker: {pace['events']} events applied in {pace['seconds']:.2f} s = {pace['events_per_s']:.0f} events/s"
        f" ({pace['cpu_us_per_event']:.0f} us of worker CPU per event), relay included"
    )
    if args.json:
        args.json.write_text(json.dumps({"reads": medians, "errors": errors, "ratio": ratio, "worker": pace}, indent=2))


if __name__ == "__main__":
    main()
