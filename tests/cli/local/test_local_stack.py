"""The local stack for real: up, up again, the service over TLS, a crash and its repair, the bucket, destroy."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
from typer.testing import CliRunner

from cli.local import prometheus
from cli.local.processes import free_port, pid_alive
from tests.cli.smoke.untimed import UNTIMED_FLAGS
from tests.harness import cli_failure, scratch_dir

REPO = Path(__file__).resolve().parents[3]
SERVICES = ["postgres", "pgbouncer", "cache", "api", "worker", "scheduler", "tls", "s3", "prometheus"]
INFRA = [sys.executable, "-m", "cli"]


def infra(local_dir: Path, *args: str, code: int = 0) -> dict:
    """Run the real CLI as a user would, with --json, and return its one JSON document."""
    env = {**os.environ, "INFRA_LOCAL_DIR": str(local_dir), "INFRA_PROJECT_DIR": str(REPO)}
    result = subprocess.run(
        [*INFRA, *args, "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert code is None or result.returncode == code, f"infra {' '.join(args)} {cli_failure(result)}"
    return json.loads(result.stdout)


@pytest.fixture
def scratch():
    """A directory the postgres user can reach (pytest's own tmp_path is private to root)."""
    path = scratch_dir("groundwork-local-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def local_dir():
    path = scratch_dir("groundwork-local-")
    yield path / "stack"
    infra(path / "stack", "destroy", "--stack", "local", "--yes")
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def first_up(local_dir):
    return infra(local_dir, "up", "--stack", "local")


def _pids(local_dir: Path) -> dict[str, int]:
    return {s["name"]: s["pid"] for s in infra(local_dir, "status")["services"]}


def _outputs(local_dir: Path) -> dict:
    return infra(local_dir, "outputs", "--show-secrets")["outputs"]


def test_up_from_nothing_creates_every_service(first_up):
    assert [s["name"] for s in first_up["services"]] == SERVICES
    assert {s["action"] for s in first_up["services"]} == {"create"}
    assert first_up["outputs"]["service_url"].startswith("https://localhost:")
    assert first_up["outputs"]["user_pool_id"].startswith("us-east-1_")
    assert first_up["outputs"]["jwks_url"].startswith("https://127.0.0.1:")


def test_up_again_changes_nothing(first_up, local_dir):
    before = _pids(local_dir)
    again = infra(local_dir, "up")
    assert again["changes"] == 0
    assert {s["action"] for s in again["services"]} == {"same"}
    assert _pids(local_dir) == before
    preview = infra(local_dir, "preview", "--detailed-exitcode")
    assert preview["changes_present"] is False


def test_service_answers_over_tls_and_http_redirects(first_up, local_dir):
    out = _outputs(local_dir)
    machine = infra(local_dir, "token", "--stack", "local", "--client")
    with httpx.Client(verify=out["ca_certificate"], timeout=10) as client:
        public = client.get(f"{out['service_url']}/heartbeat")
        assert public.status_code == 200
        assert set(public.json()) == {"status"}, "the public heartbeat discloses only its status"
        admin = {"Authorization": f"Bearer {machine['access_token']}"}
        heartbeat = client.get(f"{out['service_url']}/heartbeat", headers=admin)
        assert heartbeat.status_code == 200
        assert heartbeat.json()["database"]["ok"] is True
        assert client.get(f"{out['service_url']}/metrics").status_code == 404  # kept off the public endpoint
    redirect = httpx.get(f"{out['http_url']}/livez", follow_redirects=False)
    assert redirect.status_code == 301
    assert redirect.headers["location"] == f"{out['service_url']}/livez"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{out['service_url']}/livez")  # the local CA is not trusted by default


def test_a_user_of_the_local_pool_owns_its_record_and_no_other(first_up, local_dir):
    out = _outputs(local_dir)
    alice = infra(local_dir, "token", "--stack", "local", "--user", "alice")
    bob = infra(local_dir, "token", "--stack", "local", "--user", "bob")
    assert set(alice) >= {"access_token", "expires_in", "sub"}
    claims = jwt.decode(alice["access_token"], options={"verify_signature": False})
    assert (claims["iss"], claims["sub"], claims["token_use"]) == (out["jwt_issuer"], alice["sub"], "access")
    assert claims["client_id"] == out["app_client_id"]
    with httpx.Client(verify=out["ca_certificate"], timeout=10, base_url=out["service_url"]) as client:
        as_alice = {"Authorization": f"Bearer {alice['access_token']}"}
        as_bob = {"Authorization": f"Bearer {bob['access_token']}"}
        mine = client.post("/map", json={"user_id": alice["sub"], "practice": {"k": 1}}, headers=as_alice)
        assert mine.status_code in (200, 201), mine.text
        assert client.get(f"/map/{alice['sub']}", headers=as_alice).json()["version"] == mine.json()["version"]
        theirs = client.post("/map", json={"user_id": bob["sub"], "practice": {"k": 2}}, headers=as_bob)
        assert theirs.status_code in (200, 201), theirs.text
        assert client.get(f"/map/{bob['sub']}", headers=as_alice).status_code == 403
        refused = client.post("/map", json={"user_id": bob["sub"], "practice": {"k": 3}}, headers=as_alice)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        assert client.get(f"/map/{bob['sub']}", headers=as_bob).json()["version"] == theirs.json()["version"]
    again = infra(local_dir, "token", "--stack", "local", "--user", "alice")
    assert again["sub"] == alice["sub"], "a user keeps its subject"


def test_nginx_errors_answer_in_the_api_error_format(first_up, local_dir):
    out = _outputs(local_dir)
    with httpx.Client(verify=out["ca_certificate"], timeout=10) as client:
        trace = client.request("TRACE", f"{out['service_url']}/livez")
        assert trace.status_code == 405
        assert trace.headers["allow"] == "GET, HEAD, POST"
        assert trace.json() == {"error": {"code": "method_not_allowed", "message": "Method Not Allowed"}}
        too_big = client.post(f"{out['service_url']}/map", content=b"x" * (2 * 1024 * 1024))
        assert too_big.status_code == 413
        assert too_big.headers["content-type"] == "application/json"
        assert too_big.json()["error"]["code"] == "payload_too_large"
    plain_trace = httpx.request("TRACE", f"{out['http_url']}/")
    assert plain_trace.status_code == 405
    assert plain_trace.json()["error"]["code"] == "method_not_allowed"
    assert plain_trace.headers["allow"] == "GET, HEAD, POST"


def test_smoke_check_passes_against_the_local_stack(first_up, local_dir):
    report = infra(local_dir, "smoke", "--stack", "local", *UNTIMED_FLAGS)["smoke"]
    assert report["passed"] is True
    assert report["overall"]["requests"] == 200
    assert report["overall"]["succeeded"] == 200
    checks = {check["name"]: check["status"] for check in report["checks"]}
    assert {name: checks[name] for name in ("own_record", "other_write", "other_read", "scope")} == dict.fromkeys(
        ("own_record", "other_write", "other_read", "scope"), "pass"
    )
    assert {check["name"]: check["status"] for check in report["preflight"]} == {
        "dns": "pass",
        "tls": "pass",
        "redirect": "pass",
        "livez": "pass",
    }


def test_the_recovery_drill_restores_the_declared_database(first_up, local_dir):
    drill = infra(local_dir, "drill", "--stack", "local", "--report-dir", str(local_dir.parent / "drills"))["drill"]
    assert drill["ok"] is True, drill["failure"]
    assert drill["throwaway_removed"] is True


def test_bucket_endpoint_serves_the_stack_buckets(first_up, local_dir):
    import boto3

    out = _outputs(local_dir)
    s3 = boto3.client(
        "s3",
        endpoint_url=out["s3_endpoint"],
        region_name=out["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
        verify=out["ca_certificate"],
    )
    s3.put_object(Bucket=out["app_bucket"], Key="hello.txt", Body=b"hi")
    assert s3.get_object(Bucket=out["app_bucket"], Key="hello.txt")["Body"].read() == b"hi"
    block = s3.get_public_access_block(Bucket=out["app_bucket"])["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert s3.get_bucket_versioning(Bucket=out["log_bucket"])["Status"] == "Enabled"


def _environment(local_dir: Path, service: str) -> dict[str, str]:
    raw = Path(f"/proc/{_service(local_dir, service)['pid']}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_the_cache_is_redis_over_tls_with_the_declared_user(first_up, local_dir):
    import redis

    out = _outputs(local_dir)
    worker, api = _environment(local_dir, "worker"), _environment(local_dir, "api")
    for env in (worker, api):
        # The IAM adapter: the declared user signs in with a password from the stack's secret store.
        assert env["CACHE_URL"] == out["cache_url"]
        assert env["CACHE_IAM_AUTH"] == "false"
        assert env["CACHE_USERNAME"] == "gw-local-cache-app"
        assert env["CACHE_CA_FILE"] == out["ca_certificate"]
        assert len(env["CACHE_PASSWORD"]) >= 32
    assert "WORKER_METRIC_NAMESPACE" not in worker  # no CloudWatch here: the backlog is only logged
    assert out["cache_url"].startswith("rediss://127.0.0.1:")
    options = {"ssl_ca_certs": out["ca_certificate"], "socket_timeout": 5}
    user, password = worker["CACHE_USERNAME"], worker["CACHE_PASSWORD"]
    with redis.Redis.from_url(out["cache_url"], username=user, password=password, **options) as client:
        assert client.ping() is True
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.config_get("maxmemory-policy")  # the declared access string: no dangerous commands
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(out["cache_url"], username=user, password="wrong" * 8, **options).ping()
    with (
        redis.Redis.from_url(out["cache_url"], **options) as anonymous,
        pytest.raises(redis.exceptions.AuthenticationError),
    ):
        anonymous.set("k", "v")  # the declared default user is off
    plain = out["cache_url"].replace("rediss://", "redis://")
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis.from_url(plain, username=user, password=password, socket_timeout=2).ping()
    conf = (local_dir / "cache" / "redis.conf").read_text()
    assert 'maxmemory-policy "allkeys-lru"' in conf  # the parameter group's eviction policy
    assert password not in conf  # only its hash


def test_the_worker_applies_each_event_of_the_outbox(first_up, local_dir):
    import psycopg

    sys.path.insert(0, str(REPO / "app_image"))
    from groundwork_api import events

    assert _service(local_dir, "worker")["state"] == "running"
    user = f"worker-probe-{time.time_ns()}"
    with psycopg.connect(_outputs(local_dir)["database_url"], autocommit=True, prepare_threshold=None) as conn:
        conn.execute(events.SCHEMA)  # the service's own tables, as its migrations make them
        conn.execute(events.RECORD_EVENT, (user, 1))
        conn.execute(events.RECORD_EVENT, (user, 2))
        deadline = time.monotonic() + 30
        row = None
        while time.monotonic() < deadline:
            row = conn.execute("SELECT writes, last_version FROM user_summary WHERE user_id = %s", (user,)).fetchone()
            if row == (2, 2):
                break
            time.sleep(0.05)
    assert row == (2, 2), f"the worker did not apply both events within 30 s: {row}"


def test_the_rate_rule_answers_429_past_the_limit_for_that_client_only(first_up, local_dir):
    from infra.firewall import RATE_LIMITED_BODY

    out = _outputs(local_dir)
    allowance, per_minute = out["edge_rate_allowance"], out["edge_rate_limit"]
    assert (allowance, per_minute, out["edge_rate_window_seconds"]) == (600, 600, 60)  # Pulumi.local.yaml's rule

    def client(address: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=address, verify=out["ca_certificate"])
        return httpx.Client(transport=transport, timeout=10)

    started = time.monotonic()
    with client("127.0.0.23") as busy:
        admitted = 0
        for _ in range(allowance + 500):
            first = busy.get(f"{out['service_url']}/livez")
            if first.status_code != 200:
                break
            admitted += 1
        elapsed = time.monotonic() - started
        following = time.monotonic()
        after = [busy.get(f"{out['service_url']}/livez") for _ in range(5)]
        following = time.monotonic() - following
    assert first.status_code == 429, first.text
    # The allowance at once, plus what the bucket refilled (per_minute / 60 a second) while they were sent.
    assert allowance <= admitted <= allowance + math.ceil(per_minute / 60 * elapsed) + 1, (admitted, elapsed)
    refused = [first, *(answer for answer in after if answer.status_code == 429)]
    # Past the allowance only what the bucket refilled while the five were sent gets through.
    refilled = math.ceil(per_minute / 60 * following)
    assert len(after) - (len(refused) - 1) <= refilled, ([answer.status_code for answer in after], following)
    for answer in refused:
        assert answer.headers["retry-after"] == "60"
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == RATE_LIMITED_BODY
    with client("127.0.0.24") as other:
        assert other.get(f"{out['service_url']}/livez").status_code == 200  # per client address


def test_status_lists_each_schedule_with_its_next_run(first_up, local_dir):
    import datetime as dt
    import zoneinfo

    paris = zoneinfo.ZoneInfo("Europe/Paris")

    def next_half_past_three(now: dt.datetime) -> dt.datetime:
        expected = now.replace(hour=3, minute=30, second=0, microsecond=0)
        return (
            expected
            if expected > now
            else (now + dt.timedelta(days=1)).replace(hour=3, minute=30, second=0, microsecond=0)
        )

    before = next_half_past_three(dt.datetime.now(paris))
    status = infra(local_dir, "status")
    after = next_half_past_three(dt.datetime.now(paris))  # differs from `before` only if 03:30 passed meanwhile
    assert _service(local_dir, "scheduler")["state"] == "running"
    (job,) = status["schedules"]
    assert (job["name"], job["expression"], job["time_zone"]) == ("prune-events", "cron(30 3 * * ? *)", "Europe/Paris")
    assert job["command"] == ["python", "-m", "groundwork_api.jobs", "prune-events", "--days", "7"]
    assert dt.datetime.fromisoformat(job["next_run"]) in {before, after}


def test_dashboard_shows_the_cloud_panels(first_up, local_dir):
    # Prometheus scrapes every 15 s, from an offset of its own after it starts: until its first scrape of the API
    # the panels have nothing to count (shown as -), not zero.
    url, scraped = _outputs(local_dir)["prometheus_url"], 'sum(up{job="api"})'
    deadline = time.monotonic() + 60
    while prometheus.instant(url, scraped) is None:
        assert time.monotonic() < deadline, "Prometheus did not scrape the API within 60 s"
        time.sleep(0.5)
    panels = infra(local_dir, "dashboard", "--interval", "0.5")["panels"]
    assert {"load balancer", "service", "database", "pool", "worker", "alarms"} == set(panels)
    assert panels["load balancer"]["healthy targets"] == 1
    assert panels["database"]["connections"] >= 1
    assert panels["service"]["running tasks"] >= 1


def test_logs_show_the_api_json_lines(first_up, local_dir):
    lines = infra(local_dir, "logs", "api", "--lines", "200")["logs"]["api"]
    assert any('"event":"request"' in line for line in lines)


def _human(local_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real CLI without --json, as a user piping its output would."""
    env = {**os.environ, "INFRA_LOCAL_DIR": str(local_dir), "INFRA_PROJECT_DIR": str(REPO)}
    result = subprocess.run(
        [*INFRA, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"infra {' '.join(args)} {cli_failure(result)}"
    return result


def test_what_was_asked_for_goes_to_stdout(first_up, local_dir):
    shown = _human(local_dir, "logs", "api", "--lines", "3").stdout.splitlines()
    assert len(shown) == 3  # `infra logs api | wc -l` counts the lines asked for
    # The API keeps logging (health checks, scrapes), so the log's last lines move on: what was shown is three
    # consecutive lines of it.
    kept = infra(local_dir, "logs", "api", "--lines", "5000")["logs"]["api"]
    assert any(kept[i : i + 3] == shown for i in range(len(kept) - 2)), shown
    status = _human(local_dir, "status")
    assert "pgbouncer" in status.stdout
    outputs = _human(local_dir, "outputs")
    assert "service_url" in outputs.stdout


def _service(local_dir: Path, name: str) -> dict:
    return next(s for s in infra(local_dir, "status")["services"] if s["name"] == name)


def _killed_and_back(local_dir: Path, name: str) -> dict:
    """Kill the service's process; return its status once the supervisor has it running again (or gave up)."""
    before = _service(local_dir, name)
    os.kill(before["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = _service(local_dir, name)
        if now["state"] == "crash-loop":
            return now
        if now["state"] == "running" and now["pid"] != before["pid"] and now["restarts"] > before["restarts"]:
            return now
    raise AssertionError(f"{name} was neither restarted nor reported as a crash loop: {now}")


def test_crashed_services_restart_by_themselves_and_a_crash_loop_is_stopped(first_up, local_dir):
    for name in ("pgbouncer", "postgres", "cache", "worker"):
        back = _killed_and_back(local_dir, name)
        assert back["state"] == "running"
        assert back["restarts"] >= 1
    for expected_restarts in (1, 2, 3):
        back = _killed_and_back(local_dir, "api")
        assert back["state"] == "running"
        assert back["restarts"] == expected_restarts
    looping = _killed_and_back(local_dir, "api")  # a fourth crash within the minute
    assert looping["state"] == "crash-loop"
    status = infra(local_dir, "status")
    assert status["crash_loop"] == ["api"]
    assert status["healthy"] is False
    out = _outputs(local_dir)
    gateway = httpx.get(f"{out['service_url']}/livez", verify=out["ca_certificate"])
    assert gateway.status_code == 502
    assert gateway.json() == {"error": {"code": "bad_gateway", "message": "Bad Gateway"}}
    tls_log = infra(local_dir, "logs", "tls", "--lines", "50")["logs"]["tls"]
    assert any("connect() failed" in line and "upstream" in line for line in tls_log), tls_log
    repaired = infra(local_dir, "up")
    assert {s["name"]: s["action"] for s in repaired["services"]}["api"] == "restart"
    assert repaired["changes"] == 1
    assert _service(local_dir, "api")["state"] == "running"
    assert httpx.get(f"{out['service_url']}/heartbeat", verify=out["ca_certificate"]).status_code == 200


def test_preview_from_nothing_shows_every_service_it_would_create(scratch):
    document = infra(scratch / "never", "preview")
    assert [s["name"] for s in document["services"]] == SERVICES
    assert {s["action"] for s in document["services"]} == {"create"}
    assert not (scratch / "never" / "state.json").exists()


def test_destroy_stops_everything_and_removes_the_data(scratch):
    local_dir = scratch / "doomed"
    infra(local_dir, "up")
    pids = _pids(local_dir)
    refused = infra(local_dir, "destroy", code=2)  # no terminal, no --yes
    assert refused["error"]["kind"] == "ConfirmationRefused"
    assert all(pid_alive(pid) for pid in pids.values())
    gone = infra(local_dir, "destroy", "--yes")
    assert gone["destroyed"] is True
    assert not any(pid_alive(pid) for pid in pids.values())
    assert not local_dir.exists()
    assert infra(local_dir, "status")["exists"] is False
    try:
        back = infra(local_dir, "up")
        assert back["plan"]["reused"] is True, "destroy keeps the plan cache: nothing changed, nothing is planned"
        assert {s["action"] for s in back["services"]} == {"create"}
    finally:
        infra(local_dir, "destroy", "--yes")


def test_a_taken_port_is_named_with_the_fix(scratch):
    local_dir = scratch / "conflict"
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        local_dir.mkdir()
        ports = {name: free_port() for name in ("postgres", "pgbouncer", "api", "http", "https")}
        ports["s3"] = taken  # the last service in line: nothing before it may start either
        (local_dir / "state.json").write_text(json.dumps({"ports": ports}))
        try:
            error = infra(local_dir, "up", code=2)["error"]
            started = [s for s in infra(local_dir, "status")["services"] if s["state"] == "running"]
        finally:
            infra(local_dir, "destroy", "--yes")
    assert started == [], "a port conflict must leave nothing started"
    assert error["kind"] == "PortTaken"
    assert f"127.0.0.1:{taken}" in error["message"]
    assert "ss -ltnp" in error["hint"]


@pytest.mark.parametrize(
    ("missing", "message"),
    [("postgres", "PostgreSQL server binaries"), ("pgbouncer", "pgbouncer is not installed")],
)
def test_a_missing_program_is_named_with_the_fix(scratch, monkeypatch, missing, message):
    from cli.local import binaries
    from cli.main import app

    if missing == "postgres":
        monkeypatch.setattr(binaries.glob, "glob", lambda pattern: [])
    else:
        monkeypatch.setattr(binaries.shutil, "which", lambda *args, **kwargs: None)
    monkeypatch.setenv("INFRA_LOCAL_DIR", str(scratch / "stack"))
    monkeypatch.setenv("INFRA_PROJECT_DIR", str(REPO))
    result = CliRunner().invoke(app, ["up", "--stack", "local", "--json"])
    try:
        assert result.exit_code == 2, result.output
        document = json.loads(result.stdout)
        assert message in document["error"]["message"]
        assert "make setup" in document["error"]["hint"]
    finally:
        CliRunner().invoke(app, ["destroy", "--stack", "local", "--yes"])


def test_a_stale_pid_file_naming_a_stranger_is_never_signalled(scratch):
    """After a crash or a reboot a pid file may name an unrelated process that reused the number."""
    from cli.local.stack import LocalStack

    stranger = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        stack = LocalStack(REPO)
        stack.root = scratch / "stale"
        services = {service.name: service for service in stack.services()}
        pidfiles = [
            services["api"].pidfile,
            services["worker"].pidfile,
            services["scheduler"].pidfile,
            services["cache"].pidfile,
            services["s3"].pidfile,
            services["tls"].pidfile,
            services["pgbouncer"].pooler.pidfile,
            services["postgres"].cluster.data / "postmaster.pid",
        ]
        for pidfile in pidfiles:
            pidfile.parent.mkdir(parents=True, exist_ok=True)
            pidfile.write_text(f"{stranger.pid}\n")
        states = {state.name: state.state for state in stack.status()}
        assert "running" not in states.values(), states
        for service in services.values():
            service.stop()
        assert stranger.poll() is None, "a stranger named by a stale pid file was signalled"
    finally:
        stranger.kill()
        stranger.wait()


def test_damaged_state_is_named_and_destroy_still_cleans_up(scratch):
    local_dir = scratch / "damaged"
    infra(local_dir, "up")
    pids = _pids(local_dir)
    (local_dir / "state.json").write_text("{bad")
    error = infra(local_dir, "status", code=2)["error"]
    assert "state.json is not readable JSON" in error["message"]
    assert "infra destroy --stack local" in error["hint"]
    assert infra(local_dir, "destroy", "--yes")["destroyed"] is True
    assert not any(pid_alive(pid) for pid in pids.values())
    assert not local_dir.exists()


def test_a_directory_prepared_by_someone_else_is_refused(scratch):
    local_dir = scratch / "prepared"
    local_dir.mkdir()
    local_dir.chmod(0o777)
    error = infra(local_dir, "up", code=2)["error"]
    assert "others may write to it" in error["message"]
    assert not (local_dir / "secrets.json").exists()


def _run(local_dir: Path, *command: str, as_json: bool = True) -> subprocess.CompletedProcess:
    """`infra run --stack local [--json] -- COMMAND...` as a user types it."""
    flags = ["--json"] if as_json else []
    return subprocess.run(
        [*INFRA, "run", "--stack", "local", *flags, "--", *command],
        cwd=REPO,
        env={**os.environ, "INFRA_LOCAL_DIR": str(local_dir), "INFRA_PROJECT_DIR": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_sees_the_api_environment_and_returns_the_exit_code(first_up, local_dir):
    probe = "import os, sys; print(os.environ['DATABASE_URL'].split('@')[1]); sys.exit(int(os.environ['PORT']) % 7)"
    api_port = next(s for s in infra(local_dir, "status")["services"] if s["name"] == "api")["ports"][0]
    pooler = _outputs(local_dir)["proxy_endpoint"]
    ran = _run(local_dir, "python", "-c", probe)
    document = json.loads(ran.stdout)
    assert document["exit_code"] == api_port % 7
    assert document["service"] == "api"
    assert document["output"][0].startswith(pooler), "under --json the task's output is the document's"
    assert ran.stderr == "", "the exit code is the answer; nothing else is written"
    migrated = _run(local_dir, "python", "-m", "groundwork_api.migrate")
    assert migrated.returncode == 0, "the schema is already this release's: the step finds the work done"
    assert json.loads(migrated.stdout)["exit_code"] == 0
    shown = _run(local_dir, "python", "-c", probe, as_json=False)
    assert shown.returncode == api_port % 7
    assert shown.stdout.strip().startswith(pooler), "the task reaches the database through the stack's pooler"
