"""Data-plane benchmark: the API as the image runs it, through PgBouncer, against nginx's ceiling on this machine.

Run with `make bench` (installs nginx and wrk) or `.venv/bin/python -m bench.dataplane [--rounds N --seconds S]`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import TOKEN_AUDIENCE, TOKEN_ISSUER, TOKEN_SECRET
from tests.harness import AppProcess, PgBouncer, Postgres, app_environment, free_port, scratch_dir, wait_for_port

TARGETS = {
    ("heartbeat", 100): {"rps": 10_000, "p99_ms": 30},
    ("map", 100): {"rps": 4_500, "p99_ms": 60},
}
STARTUP_TARGET_S = 1.0

MAP_SCRIPT = """
local counter = 0
local thread_id = tostring(math.random(1, 1e9))
request = function()
  counter = counter + 1
  local body = '{"user_id":"bench-' .. thread_id .. '-' .. (counter % 5000) .. '","practice":{"minutes":' .. counter
      .. ',"pieces":["scales","arpeggios"],"tempo":{"bpm":96}}}'
  return wrk.format("POST", "/map", {["Content-Type"] = "application/json",
                                     ["Authorization"] = "Bearer TOKEN"}, body)
end
"""


def _require(tool: str) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/local/sbin")
    if path is None:
        sys.exit(f"bench: {tool} is missing; run `make bench` (it installs nginx and wrk)")
    return path


def _mint_token() -> str:
    import jwt

    claims = {"iss": TOKEN_ISSUER, "aud": TOKEN_AUDIENCE, "exp": int(time.time()) + 3600}
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
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, connections: int, seconds: int, script: Path | None = None) -> dict:
    """One wrk run; returns requests/s, p50 and p99 in ms, and the count of errors and non-2xx answers."""
    cmd = [_require("wrk"), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "errors": errors + (int(non_2xx.group(1)) if non_2xx else 0),
    }


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children: per-request cost that other load cannot inflate."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for member in (pid, *map(int, children)):
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def startup_seconds(database_url: str, logs: Path, repeats: int = 3) -> float:
    """Median time from launching the image's command to the first 200 on /heartbeat."""
    times = []
    for _ in range(repeats):
        app = AppProcess(app_environment(database_url, free_port()), logs / f"startup-{len(times)}.log")
        started = time.perf_counter()
        app.start(wait=False)
        try:
            while True:
                try:
                    if httpx.get(f"{app.base_url}/heartbeat", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() - started > 30:
                    sys.exit("bench: the API did not answer /heartbeat within 30 s")
                time.sleep(0.005)
            times.append(time.perf_counter() - started)
        finally:
            app.stop()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repeats; medians are reported")
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    base = scratch_dir("groundwork-bench-")
    postgres = Postgres(base / "pg")
    bouncer = PgBouncer(postgres, base / "pgbouncer")
    app = AppProcess(app_environment(bouncer.url(), free_port()), base / "api.log")
    nginx_pid = base / "nginx" / "nginx.pid"
    try:
        postgres.init()
        bouncer.start()
        nginx_port, nginx_pid = _start_nginx(base)
        app.start()
        script = base / "map.lua"
        script.write_text(MAP_SCRIPT.replace("TOKEN", _mint_token()))
        print(f"bench: warming up; {args.rounds} interleaved rounds of {args.seconds} s per run", file=sys.stderr)
        wrk(f"{app.base_url}/heartbeat", 10, 2)
        wrk(f"{app.base_url}/map", 10, 2, script)
        runs: dict[tuple[str, int], list[dict]] = {}
        plan = [
            ("nginx", f"http://127.0.0.1:{nginx_port}/", None),
            ("heartbeat", f"{app.base_url}/heartbeat", None),
            ("map", f"{app.base_url}/map", script),
        ]
        for round_number in range(args.rounds):
            for connections in (10, 100):
                for name, url, lua in plan:
                    before = process_tree_cpu_seconds(app.process.pid) if name != "nginx" else 0.0
                    result = wrk(url, connections, args.seconds, lua)
                    if name != "nginx":
                        spent = process_tree_cpu_seconds(app.process.pid) - before
                        result["cpu_us"] = spent / (result["rps"] * args.seconds) * 1e6
                    runs.setdefault((name, connections), []).append(result)
                    line = f"  round {round_number + 1} {name:9} c{connections:<3} {result['rps']:>9.0f} req/s"
                    print(line, file=sys.stderr)
        startup = startup_seconds(bouncer.url(), base)
    finally:
        app.stop()
        if nginx_pid.exists():
            subprocess.run(["kill", nginx_pid.read_text().strip()], check=False)
        bouncer.stop()
        postgres.destroy()
        shutil.rmtree(base, ignore_errors=True)

    medians = {
        key: {
            metric: statistics.median(r.get(metric, 0.0) for r in results)
            for metric in ("rps", "p50_ms", "p99_ms", "cpu_us")
        }
        | {"errors": sum(r["errors"] for r in results)}
        for key, results in runs.items()
    }
    header = (
        f"{'endpoint':10} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'of nginx':>9} {'errors':>7} "
        f"{'app CPU us/req':>14}"
    )
    print(f"\n{header}  target")
    for (name, connections), figures in sorted(medians.items(), key=lambda item: (item[0][1], item[0][0])):
        ceiling = medians[("nginx", connections)]["rps"]
        cpu = f"{figures['cpu_us']:.0f}" if name != "nginx" else "-"
        target = TARGETS.get((name, connections))
        verdict = ""
        if target:
            met = figures["rps"] >= target["rps"] and figures["p99_ms"] <= target["p99_ms"]
            verdict = f"{target['rps']} req/s, p99 < {target['p99_ms']} ms: {'met' if met else 'NOT met'}"
        print(
            f"{name:10} {connections:>5} {figures['rps']:>9.0f} {figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f} "
            f"{figures['rps'] / ceiling:>8.1%} {figures['errors']:>7} {cpu:>14}  {verdict}"
        )
    print(
        f"start-up to first 200 on /heartbeat: {startup:.2f} s (target < {STARTUP_TARGET_S} s: "
        f"{'met' if startup < STARTUP_TARGET_S else 'NOT met'})"
    )
    if args.json:
        document = {f"{name}_c{conns}": figures for (name, conns), figures in medians.items()}
        document["startup_s"] = startup
        args.json.write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
