"""Data-plane benchmark: the API under two servers and without its cache, a bare reference and FastAPI peers.

Run with `make bench` (installs nginx, wrk and FastAPI) or `.venv/bin/python -m bench.dataplane [--rounds N
--seconds S]`. Every variant runs in the same run, in interleaved rounds (A B A B), and medians and ratios to each
reference, taken round by round, are printed; nginx's `return 200` is the machine's ceiling.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from tests.conftest import TOKEN_AUDIENCE, TOKEN_ISSUER, TOKEN_SECRET
from tests.harness import (
    APP_DIR,
    ROOT,
    PgBouncer,
    Postgres,
    app_environment,
    free_port,
    image_command,
    migrate,
    scratch_dir,
    wait_for_port,
)
from tests.redis_server import RedisServer

SUBJECTS = 1000
"""Users writing in the map run, each with its own token (its subject is the user_id it writes)."""
# Every request carries a new Idempotency-Key (the run's nonce, the wrk thread, a counter): the API and the
# standard peer claim one per write. Users and their tokens take turns.
MAP_SCRIPT = """
local tokens = {TOKENS}
local counter = 0
local run, thread_id = "", 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
function init(args)
  run = args[1] or ""
end
request = function()
  counter = counter + 1
  local user = counter % #tokens
  local body = '{"user_id":"bench-' .. user .. '","practice":{"minutes":' .. counter
      .. ',"pieces":["scales","arpeggios"],"tempo":{"bpm":96}}}'
  return wrk.format("POST", "/map", {["Content-Type"] = "application/json",
                                     ["Authorization"] = "Bearer " .. tokens[user + 1],
                                     ["Idempotency-Key"] = run .. "-" .. thread_id .. "-" .. counter}, body)
end
"""
API_FEATURES = {"SUBJECT_RATE_LIMIT": "1000000", "SUBJECT_RATE_WINDOW_SECONDS": "60"}
"""The per-subject limit on (far above what the bench sends), with the cache and idempotency keys of every write."""
UNCACHED = {"CACHE_URL": "", "CACHE_PASSWORD": "", "SUBJECT_RATE_LIMIT": "0"}
"""The "uncached" variant: the image's API with every feature but the cache and the per-subject limit it counts."""


def _require(tool: str) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/local/sbin")
    if path is None:
        sys.exit(f"bench: {tool} is missing; run `make bench` (it installs nginx and wrk)")
    return path


def _mint_token(subject: str = "bench-admin", scope: str | None = "map/admin") -> str:
    """An admin's token by default (writes any user_id); with scope None, a user's (writes only its subject's)."""
    import jwt

    claims = {"iss": TOKEN_ISSUER, "aud": TOKEN_AUDIENCE, "exp": int(time.time()) + 3600, "sub": subject}
    if scope is not None:
        claims["scope"] = scope
    return jwt.encode(claims, TOKEN_SECRET, algorithm="HS256")


def _start_nginx(base: Path) -> tuple[int, Path]:
    port = free_port()
    (base / "nginx").mkdir()
    conf = base / "nginx" / "nginx.conf"
    conf.write_text(
        "worker_processes 2;\n"
        f"pid {base}/nginx/nginx.pid;\nerror_log {base}/nginx/error.log;\n"
        "events { worker_connections 4096; }\n"
        "http { access_log off; server { listen 127.0.0.1:%d; location / { return 200 'ok'; } } }\n" % port
    )
    subprocess.run([_require("nginx"), "-c", str(conf), "-p", str(base / "nginx")], check=True)
    wait_for_port(port, 10, "nginx")
    return port, base / "nginx" / "nginx.pid"


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise RuntimeError(f"bench: wrk printed a latency this cannot read: {text!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, connections: int, seconds: int, script: Path | None = None) -> dict:
    """One wrk run; returns requests/s, p50 and p99 in ms, and the count of errors and non-2xx answers."""
    cmd = [_require("wrk"), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", str(script)]
        cmd += ["--", uuid.uuid4().hex[:12]]  # the run's nonce: no Idempotency-Key repeats across runs
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise RuntimeError(f"bench: wrk printed no Requests/sec for {url}:\n{out}")
    if set(latency) != {"50", "99"}:
        print(f"bench: wrk printed no latency distribution for {url}:\n{out}", file=sys.stderr)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": _ms(latency["50"]) if "50" in latency else math.nan,
        "p99_ms": _ms(latency["99"]) if "99" in latency else math.nan,
        "errors": errors + (int(non_2xx.group(1)) if non_2xx else 0),
    }


IN_FLIGHT = 8
# gunicorn with uvicorn's worker class and --preload, as the image runs it (the Dockerfile's CMD), and the former
# hand-written pre-fork supervisor (bench/prefork.py); both with two workers.
SERVERS = ("gunicorn", "supervisor")
# The image's API under gunicorn without the cache and the per-subject limit: what the write's one cache round trip
# costs, and what the rest of the API's features cost against the references.
VARIANTS = ("uncached",)
# References, each served like the image: the bare Starlette app (bench/bare_app.py), FastAPI with the same upsert
# ("fastapi") and FastAPI with the write's features the standard way ("standard", bench/peers.py).
PEERS = ("bare", "fastapi", "standard")
MAP_ONLY = ("uncached", "fastapi", "standard")


@dataclass
class Server:
    """One server process started in its own session, with its log in the bench directory."""

    name: str
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def launch(name: str, database_url: str, base: Path, wait: bool = True, **env: str) -> Server:
    """Start a variant: the API under one of SERVERS, the API without its cache ("uncached"), or a reference."""
    port = free_port()
    environment = app_environment(database_url, port, **{"WORKERS": "2", **env})
    command, cwd = image_command(), APP_DIR
    if name in PEERS:
        module = "bench.bare_app:app" if name == "bare" else "bench.peers:app"
        environment["PEER_FEATURES"] = "1" if name == "standard" else "0"
        command = ["gunicorn", "-k", "uvicorn_worker.UvicornWorker", "--preload", "-w", environment["WORKERS"]]
        command += ["--no-control-socket", "--bind", f"127.0.0.1:{port}", module]
    elif name == "supervisor":
        command = ["python", "-m", "bench.prefork"]
    if name == "uncached":
        environment.update(UNCACHED)
    elif name != "gunicorn":
        cwd, environment["PYTHONPATH"] = ROOT, str(APP_DIR)
    with (base / f"{name}-{port}.log").open("ab") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(name, port, process)
    if wait:
        wait_for_port(port, 30, name)
    return server


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children: per-request cost that other load cannot inflate."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for member in (pid, *map(int, children)):
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return False
    return True


def _write(url: str, user_id: str, token: str, n: int) -> int:
    body = {"user_id": user_id, "practice": {"n": n}}
    return httpx.post(f"{url}/map", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code


def lifecycle(name: str, postgres: Postgres, bouncer: PgBouncer, base: Path, token: str) -> dict:
    """Launch to the first 200; then SIGTERM with IN_FLIGHT writes blocked on a row lock: how long until the port
    refuses connections, how many of those writes still complete, and how long until the process exits."""
    started = time.perf_counter()
    server = launch(name, bouncer.url(), base, wait=False, DATABASE_TIMEOUT="20")
    try:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{server.url}/heartbeat", timeout=2).status_code == 200:
                    break
            if time.perf_counter() - started > 30:
                sys.exit(f"bench: {name} did not answer /heartbeat within 30 s")
            time.sleep(0.005)
        first_200 = time.perf_counter() - started
        user_id = f"in-flight-{name}-{server.port}"
        _write(server.url, user_id, token, 0)
        with psycopg.connect(postgres.url()) as blocker, ThreadPoolExecutor(IN_FLIGHT) as pool:
            blocker.execute("SELECT 1 FROM user_practice WHERE user_id = %s FOR UPDATE", (user_id,))
            futures = [pool.submit(_write, server.url, user_id, token, n) for n in range(1, IN_FLIGHT + 1)]
            waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            deadline = time.monotonic() + 10
            while postgres.query(waiting)[0][0] < IN_FLIGHT and time.monotonic() < deadline:
                time.sleep(0.01)
            signalled = time.perf_counter()
            server.process.send_signal(signal.SIGTERM)
            while _accepts(server.port) and time.perf_counter() - signalled < 10:
                time.sleep(0.002)
            refused = time.perf_counter() - signalled
            blocker.commit()
            completed = sum(future.result() == 200 for future in futures)
        code = server.process.wait(30)
        exited = time.perf_counter() - signalled
    finally:
        server.stop()
    return {"first_200_s": first_200, "refuse_ms": refused * 1000, "completed": completed, "exit_s": exited, "rc": code}


def _median_and_spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repeats; medians are reported")
    parser.add_argument("--seconds", type=int, default=4, help="duration of each wrk run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    base = scratch_dir("groundwork-bench-")
    postgres = Postgres(base / "pg")
    bouncer = PgBouncer(postgres, base / "pgbouncer")
    servers: dict[str, Server] = {}
    nginx_pid = base / "nginx" / "nginx.pid"
    token = _mint_token()
    cache = RedisServer(base / "redis", password=uuid.uuid4().hex)
    runs: dict[tuple[str, str, int], list[dict]] = {}
    lifecycles: dict[str, list[dict]] = {}
    try:
        postgres.init()
        bouncer.start()
        migrate(bouncer.url())  # the release's step: the API serves only a database at its schema
        nginx_port, nginx_pid = _start_nginx(base)
        cache.start()
        features = {"CACHE_URL": cache.url, "CACHE_PASSWORD": cache.password, **API_FEATURES}
        for name in (*SERVERS, *VARIANTS, *PEERS):
            servers[name] = launch(name, bouncer.url(), base, True, **features)
        script = base / "map.lua"
        tokens = ",".join(f'"{_mint_token(f"bench-{n}", None)}"' for n in range(SUBJECTS))
        script.write_text(MAP_SCRIPT.replace("{TOKENS}", "{" + tokens + "}"))
        print(f"bench: warming up; {args.rounds} interleaved rounds of {args.seconds} s per run", file=sys.stderr)
        for name, server in servers.items():
            if name not in MAP_ONLY:
                wrk(f"{server.url}/heartbeat", 10, 1)
            wrk(f"{server.url}/map", 10, 1, script)
        names = list(servers)
        for round_number in range(args.rounds):
            order = names if round_number % 2 == 0 else names[::-1]  # no variant always runs first
            for connections in (10, 100):
                result = wrk(f"http://127.0.0.1:{nginx_port}/", connections, args.seconds)
                runs.setdefault(("nginx", "return 200", connections), []).append(result)
                for endpoint, lua in (("heartbeat", None), ("map", script)):
                    for name in order:
                        if endpoint == "heartbeat" and name in MAP_ONLY:
                            continue
                        pid = servers[name].process.pid
                        before = process_tree_cpu_seconds(pid)
                        result = wrk(f"{servers[name].url}/{endpoint}", connections, args.seconds, lua)
                        result["cpu_us"] = (process_tree_cpu_seconds(pid) - before) / (result["rps"] * args.seconds)
                        result["cpu_us"] *= 1e6
                        runs.setdefault((name, endpoint, connections), []).append(result)
                        print(
                            f"  round {round_number + 1} {name:10} {endpoint:9} c{connections:<3} "
                            f"{result['rps']:>9.0f} req/s",
                            file=sys.stderr,
                        )
            for name in SERVERS if round_number % 2 == 0 else reversed(SERVERS):
                lifecycles.setdefault(name, []).append(lifecycle(name, postgres, bouncer, base, token))
    finally:
        for server in servers.values():
            server.stop()
        if nginx_pid.exists():
            subprocess.run(["kill", nginx_pid.read_text().strip()], check=False)
        cache.stop()
        bouncer.stop()
        postgres.destroy()
        shutil.rmtree(base, ignore_errors=True)
    report(runs, lifecycles, args)


def report(runs: dict, lifecycles: dict, args) -> None:
    """Print the medians, the spread across rounds, and the ratios to each reference taken round by round."""
    print(
        f"\n{'variant':11} {'endpoint':10} {'conns':>5} {'req/s':>7} {'(min-max)':>13} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'CPU us/req':>10}" + "".join(f" {f'x {peer} (min-max)':>20}" for peer in PEERS)
    )
    document: dict = {"throughput": [], "lifecycle": {}}
    for connections in (10, 100):
        for key in [k for k in runs if k[2] == connections]:
            name, endpoint, _ = key
            results = runs[key]
            rps, low, high = _median_and_spread([r["rps"] for r in results])
            row = {
                "variant": name,
                "endpoint": endpoint,
                "connections": connections,
                "rps": rps,
                "rps_min": low,
                "rps_max": high,
                "p50_ms": statistics.median(r["p50_ms"] for r in results),
                "p99_ms": statistics.median(r["p99_ms"] for r in results),
                "errors": sum(r["errors"] for r in results),
                "cpu_us": statistics.median(r.get("cpu_us", 0.0) for r in results),
            }
            ratio_text = ""
            for peer in PEERS:
                reference = runs.get((peer, endpoint, connections))
                if name == "nginx" or reference is None:
                    ratio_text += f" {'':>20}"
                    continue
                ratios = [r["rps"] / b["rps"] for r, b in zip(results, reference, strict=True)]
                middle, least, most = _median_and_spread(ratios)
                row[f"x_{peer}"], row[f"x_{peer}_min"], row[f"x_{peer}_max"] = middle, least, most
                ratio_text += f" {f'{middle:.2f} ({least:.2f}-{most:.2f})':>20}"
            cpu = f"{row['cpu_us']:.0f}" if name != "nginx" else "-"
            print(
                f"{name:11} {endpoint:10} {connections:>5} {rps:>7.0f} {f'({low:.0f}-{high:.0f})':>13} "
                f"{row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['errors']:>6} {cpu:>10}{ratio_text}"
            )
            document["throughput"].append(row)
    print(
        f"\n{'server':11} {'first 200 s':>18} {'refuses after SIGTERM ms':>26} {'in-flight completed':>20} "
        f"{'exit after SIGTERM s':>21} {'exit codes':>10}"
    )
    for name, trials in lifecycles.items():
        first, first_low, first_high = _median_and_spread([t["first_200_s"] for t in trials])
        refuse, refuse_low, refuse_high = _median_and_spread([t["refuse_ms"] for t in trials])
        completed = sum(t["completed"] for t in trials)
        exit_s = statistics.median(t["exit_s"] for t in trials)
        codes = ",".join(str(t["rc"]) for t in trials)
        print(
            f"{name:11} {f'{first:.2f} ({first_low:.2f}-{first_high:.2f})':>18} "
            f"{f'{refuse:.1f} ({refuse_low:.1f}-{refuse_high:.1f})':>26} "
            f"{f'{completed}/{IN_FLIGHT * len(trials)}':>20} {exit_s:>21.2f} {codes:>10}"
        )
        document["lifecycle"][name] = trials
    if args.json:
        args.json.write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
