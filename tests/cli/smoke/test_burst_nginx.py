"""The burst check against Debian's nginx and its own `limit_req` (burst, nodelay), the local stack's edge limit."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cli.local.processes import free_port, wait_for_port
from cli.smoke.burst import EdgeLimit
from cli.smoke.check import SmokeOptions, run_smoke
from cli.smoke.endpoint import from_url
from cli.smoke.gates import Gates

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
HEARTBEAT = '{"service":"nginx","version":"1","status":"ok","database":{"ok":true,"latency_ms":0.1}}'
LIMITED = '{"error":{"code":"rate_limited","message":"too many requests from this address; retry later"}}'


def _config(base: Path, port: int, rate_per_minute: int, burst: int) -> str:
    temp = "\n".join(
        f"  {kind}_temp_path {base / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""  # the workers must read the test's private directory
    # Files are served in the content phase, after limit_req; a `return` would answer before the limit is applied.
    return f"""{user}worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
{temp}
  limit_req_zone $binary_remote_addr zone=edge:1m rate={rate_per_minute}r/m;
  server {{
    listen 127.0.0.1:{port};
    limit_req zone=edge burst={burst} nodelay;
    limit_req_status 429;
    error_page 429 = @limited;
    location / {{ root {base}/www; default_type application/json; }}
    location @limited {{
      add_header Retry-After 1 always;
      default_type application/json;
      return 429 '{LIMITED}';
    }}
  }}
}}
"""


@pytest.fixture
def nginx(tmp_path):
    if NGINX is None:
        pytest.skip("nginx is not installed (scripts/setup.sh installs nginx-light)")

    def start(rate_per_minute: int, burst: int) -> str:
        port = free_port()
        (tmp_path / "www").mkdir()
        (tmp_path / "www" / "livez").write_text('{"status":"ok"}')
        (tmp_path / "www" / "heartbeat").write_text(HEARTBEAT)
        (tmp_path / "nginx.conf").write_text(_config(tmp_path, port, rate_per_minute, burst))
        process = subprocess.Popen(
            [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        wait_for_port(port, 10, "nginx", tmp_path / "error.log", process.pid)
        return f"http://127.0.0.1:{port}"

    processes: list[subprocess.Popen] = []
    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


def _burst(base_url: str, limit: EdgeLimit):
    target = from_url(base_url, token=None, expect_redirect=False)
    options = SmokeOptions(
        requests=4, concurrency=2, writes=False, backend=False, burst=True, burst_limit=limit, gates=Gates(p95_ms=2000)
    )
    report = run_smoke(target, options)
    return report, next(c for c in report.checks if c.name == "burst")


def test_nginx_refuses_at_its_burst_and_the_check_measures_it(nginx):
    report, check = _burst(nginx(rate_per_minute=600, burst=20), EdgeLimit(600, 60, allowance=21))
    assert check.status == "pass", check.summary
    assert report.passed
    # nginx admits burst + 1 at once, then one more per 100 ms the run lasted.
    assert 21 <= check.data["measured_allowance"] <= 21 + math.ceil(10 * report.elapsed_s)
    assert check.data["measured_ratio"] >= 1
    assert check.data["refused"] >= 1


def test_nginx_with_twice_the_configured_burst_is_caught(nginx):
    _, check = _burst(nginx(rate_per_minute=600, burst=60), EdgeLimit(600, 60, allowance=21))
    assert check.status == "fail"
    assert "more than the" in check.summary or "too late" in check.summary
