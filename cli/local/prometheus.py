"""Prometheus on the local stack: it scrapes the API's and the workers' /metrics and evaluates the alarms' rules."""

from __future__ import annotations

import json
import os
import shutil
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.local.binaries import PrerequisiteMissing
from cli.local.services import ProcessService, digest

INTERVAL_ENV = "INFRA_LOCAL_METRICS_INTERVAL"
"""Seconds between scrapes and between rule evaluations (default 15); a test sets a short one."""
DEFAULT_INTERVAL = 15
RETENTION = "2d"
"""How long the local series are kept: the dashboard and the alarms look minutes back."""


def prometheus_bin() -> Path:
    found = shutil.which("prometheus") or next(
        (p for p in ("/usr/bin/prometheus", "/usr/sbin/prometheus") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise PrerequisiteMissing(
            "prometheus is not installed (the local stack's time-series store)",
            hint="run `make setup` (it installs Debian's prometheus), or apt-get install prometheus",
        )
    return Path(found)


def interval_seconds() -> int:
    """The scrape and evaluation interval: INFRA_LOCAL_METRICS_INTERVAL when set to 1 to 300, else 15."""
    raw = os.environ.get(INTERVAL_ENV, "")
    if raw.isdigit() and 1 <= int(raw) <= 300:
        return int(raw)
    return DEFAULT_INTERVAL


@dataclass
class PrometheusService(ProcessService):
    """Prometheus on a loopback port with its data under the stack's directory."""

    base: Path = field(kw_only=True)
    targets: dict[str, list[str]] = field(kw_only=True)
    """Scrape job -> host:port of each /metrics (api, worker)."""
    rules: list[dict[str, Any]] = field(kw_only=True)
    """The alarms realised as alerting rules (cli/local/alert_rules.py)."""
    interval: int = field(default=DEFAULT_INTERVAL, kw_only=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    def configuration(self) -> dict[str, Any]:
        """prometheus.yml (JSON is YAML): the intervals, the rule file and one job per kind of process."""
        return {
            "global": {"scrape_interval": f"{self.interval}s", "evaluation_interval": f"{self.interval}s"},
            "rule_files": [str(self.base / "rules.yml")],
            "scrape_configs": [
                {
                    "job_name": job,
                    "scrape_interval": f"{self.interval}s",
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": targets}],
                }
                for job, targets in sorted(self.targets.items())
                if targets
            ],
        }

    def rule_file(self) -> dict[str, Any]:
        """The alerting rules: each names the alarm it realises and keeps its threshold and periods."""
        return {
            "groups": [
                {
                    "name": "alarms",
                    "rules": [
                        {
                            "alert": rule["name"],
                            "expr": rule["expr"],
                            "for": f"{rule['for_seconds']}s",
                            "labels": {"alarm": rule["alarm"]},
                            "annotations": {
                                "description": rule["description"],
                                "periods": f"{rule['periods']} x {rule['period']}s",
                            },
                        }
                        for rule in self.rules
                    ],
                }
            ]
        }

    def fingerprint(self) -> str:
        return digest(self.configuration(), self.rule_file())

    def start(self) -> None:
        executable = prometheus_bin()
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "prometheus.yml").write_text(json.dumps(self.configuration(), indent=2))
        (self.base / "rules.yml").write_text(json.dumps(self.rule_file(), indent=2))
        command = [
            str(executable),
            f"--config.file={self.base / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.base / 'data'}",
            f"--storage.tsdb.retention.time={RETENTION}",
            f"--web.listen-address=127.0.0.1:{self.ports[0]}",
        ]
        self.launch(command, cwd=self.base, ready_port=self.ports[0])


def api_get(url: str, path: str, **params: str) -> Any:
    """One call of Prometheus's HTTP API; its `data`."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{url}{path}{query}", timeout=5) as response:  # noqa: S310 - loopback http we built
        document = json.loads(response.read())
    if document.get("status") != "success":
        raise ValueError(f"prometheus answered {document.get('error', document)}")
    return document["data"]


def instant(url: str, promql: str) -> float | None:
    """The value of a query that yields one number (None when it yields nothing or not a number)."""
    result = api_get(url, "/api/v1/query", query=promql)["result"]
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if value != value else value  # NaN: no requests in the window


def alerts(url: str) -> list[dict[str, Any]]:
    """Alerts pending or firing now: the alarm, its state and since when."""
    return [
        {"alarm": a["labels"].get("alarm", a["labels"].get("alertname")), "state": a["state"], "since": a["activeAt"]}
        for a in api_get(url, "/api/v1/alerts")["alerts"]
    ]


def loaded_rules(url: str) -> list[dict[str, Any]]:
    """The alerting rules Prometheus has loaded, with their state (inactive, pending, firing)."""
    return [
        {
            "alarm": r["labels"].get("alarm"),
            "name": r["name"],
            "query": r["query"],
            "for": r["duration"],
            "state": r["state"],
        }
        for group in api_get(url, "/api/v1/rules", type="alert")["groups"]
        for r in group["rules"]
    ]
