"""The local stack's Prometheus for real: it scrapes the API and the worker, and a burst of 5xx fires the 5xx rule."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from cli.local import prometheus
from tests.harness import cli_failure, scratch_dir

REPO = Path(__file__).resolve().parents[3]
INFRA = [sys.executable, "-m", "cli"]
INTERVAL = "1"
"""Scrape and evaluation interval for the test (seconds); the rules keep the plan's thresholds and periods."""
ERROR_RULE = "gw-local-mon-5xx-rate"


def infra(local_dir: Path, *args: str) -> dict:
    env = {
        **os.environ,
        "INFRA_LOCAL_DIR": str(local_dir),
        "INFRA_PROJECT_DIR": str(REPO),
        prometheus.INTERVAL_ENV: INTERVAL,
    }
    result = subprocess.run(
        [*INFRA, *args, "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, f"infra {' '.join(args)} {cli_failure(result)}"
    return json.loads(result.stdout)


def until(check: Callable[[], Any], seconds: float, what: str, step: Callable[[], None] | None = None) -> Any:
    """Poll `check` (doing `step` before each look) until it returns something true, at most `seconds`."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        if step is not None:
            step()
        last = check()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"{what} not within {seconds:.0f} s; last: {last}")


@pytest.fixture(scope="module")
def local_dir():
    path = scratch_dir("groundwork-prom-")
    yield path / "stack"
    infra(path / "stack", "destroy", "--stack", "local", "--yes")
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def outputs(local_dir: Path) -> dict[str, Any]:
    up = infra(local_dir, "up", "--stack", "local")
    assert "prometheus" in [s["name"] for s in up["services"]]
    return infra(local_dir, "outputs", "--show-secrets")["outputs"]


def _targets(url: str) -> dict[str, str]:
    found = prometheus.api_get(url, "/api/v1/targets")["activeTargets"]
    return {t["labels"]["job"]: t["health"] for t in found}


def _alert_state(url: str, alarm: str) -> str | None:
    return next((a["state"] for a in prometheus.alerts(url) if a["alarm"] == alarm), None)


def test_prometheus_scrapes_the_api_and_the_worker(outputs):
    url = outputs["prometheus_url"]
    assert url.startswith("http://127.0.0.1:")
    until(lambda: _targets(url) == {"api": "up", "worker": "up"}, 60, "both /metrics scraped", None)
    # The worker's own endpoint: its backlog, the series its alarm watches.
    assert until(lambda: prometheus.instant(url, 'max(worker_backlog{job="worker"})') is not None, 60, "backlog")
    assert prometheus.instant(url, 'sum(up{job="api"})') == 1


def test_the_alarms_with_a_local_series_are_rules_with_the_same_thresholds_and_periods(outputs, local_dir):
    rules = {r["alarm"]: r for r in prometheus.loaded_rules(outputs["prometheus_url"])}
    assert set(rules) == {
        ERROR_RULE, "gw-local-mon-latency-p95", "gw-local-mon-unhealthy-targets", "gw-local-mon-worker-backlog"
    }  # fmt: skip
    assert rules[ERROR_RULE]["query"].endswith(" > 5")  # alarm5xxPercent
    assert "[1m]" in rules[ERROR_RULE]["query"]  # one 60 s period
    assert rules[ERROR_RULE]["for"] == 60  # two periods in a row
    assert rules["gw-local-mon-latency-p95"]["query"].endswith(" > 0.2")  # alarmLatencyP95Ms 200
    assert rules["gw-local-mon-worker-backlog"]["for"] == 240  # five periods
    promtool = shutil.which("promtool")
    if promtool:
        checked = subprocess.run([promtool, "check", "rules", str(local_dir / "prometheus" / "rules.yml")], check=False)
        assert checked.returncode == 0
    up = infra(local_dir, "preview", "--stack", "local")
    cloud_only = up["cloud_only"]["types"]
    assert "aws:cloudwatch/metricAlarm:MetricAlarm gw-local-mon-db-cpu" in cloud_only


def test_a_burst_of_5xx_fires_the_5xx_rule_and_it_clears(outputs, local_dir):
    url = outputs["prometheus_url"]
    api = outputs["metrics_url"].removesuffix("/metrics")
    token = infra(local_dir, "token", "--stack", "local", "--client")["access_token"]
    headers = {"authorization": f"Bearer {token}"}
    answers: list[int] = []

    def burst() -> None:
        for _ in range(10):
            answers.append(client.get(f"/map/probe-{uuid.uuid4().hex}", headers=headers).status_code)

    with (
        httpx.Client(base_url=api, timeout=10) as client,
        psycopg.connect(outputs["database_url"], autocommit=True, prepare_threshold=None) as conn,
    ):
        until(lambda: client.get("/heartbeat").status_code == 200, 60, "the API reaches its database")
        # The fault: the service's reads are refused, so it answers 503 (the database is unusable to it).
        conn.execute("REVOKE SELECT ON user_practice FROM CURRENT_USER")
        try:
            until(lambda: _alert_state(url, ERROR_RULE) == "firing", 240, "the 5xx-rate alert firing", burst)
            assert set(answers) == {503}, "the burst was 5xx answers only"
            status = infra(local_dir, "status", "--stack", "local")
            assert {"alarm": ERROR_RULE, "state": "firing"} in [
                {"alarm": a["alarm"], "state": a["state"]} for a in status["alerts"]
            ]
        finally:
            conn.execute("GRANT SELECT ON user_practice TO CURRENT_USER")
        answers.clear()
        until(lambda: _alert_state(url, ERROR_RULE) is None, 240, "the 5xx-rate alert cleared", burst)
        assert 404 in answers, "healthy reads of absent records answer 404"


def test_the_dashboard_reads_its_panels_from_prometheus(outputs, local_dir):
    url = outputs["prometheus_url"]
    api = outputs["metrics_url"].removesuffix("/metrics")
    with httpx.Client(base_url=api, timeout=10) as client:
        # The heartbeat's database round trip sets db_up, which the pool panel shows.
        until(
            lambda: prometheus.instant(url, 'max(db_up{job="api"})') == 1,
            60,
            "db_up scraped",
            lambda: client.get("/heartbeat"),
        )
    panels = infra(local_dir, "dashboard", "--stack", "local", "--interval", "0.5")["panels"]
    assert {"load balancer", "service", "database", "pool", "worker", "alarms"} <= set(panels)
    assert panels["load balancer"]["healthy targets"] == 1
    assert panels["worker"]["scraped"] == 1
    assert panels["pool"]["database up"] is True
