"""`infra load` from the command line: one JSON document on stdout, exit codes, the HTML report, usage errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.cli.loadgen.servers import TOKEN, Behaviour, Fails, serve

UNTIMED = ["--p95-ms", "600000"]
"""These tests are not about latency: a loaded machine's slow answers must not break a gate (the latency gate is tested
against a server of known capacity, test_capacity.py)."""
BASE = ["--rate", "50", "--duration", "0.5", "--warmup", "0", *UNTIMED]


def _infra(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command in its own process: the generator's processes share its stdout, so nothing of theirs may
    land there."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_json_is_one_document_on_stdout_and_nothing_on_stderr(tmp_path):
    html = tmp_path / "load.html"
    with serve(Behaviour()) as server:
        url = f"http://127.0.0.1:{server.port}"
        result = _infra("load", "--url", url, "--token", TOKEN, *BASE, "--json", "--html", str(html))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)  # raises on anything but exactly one document
    assert doc["ok"] is True
    assert doc["load"]["requests"]["sent"] == 25
    assert doc["load"]["rate"]["target"] == 50
    assert set(doc["load"]["latency_ms"]) == {"p50", "p90", "p95", "p99", "p99.9", "max"}
    assert result.stderr == "", "the report is for people; under --json it is the document"
    assert TOKEN not in result.stdout + result.stderr + html.read_text()
    page = html.read_text()
    assert "Latency over time" in page
    assert "Percentile spectrum" in page
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        ET.fromstring(svg)  # noqa: S314 - the report this test just wrote; each chart must be well-formed


def test_a_broken_gate_exits_1_with_the_report_in_the_json_error():
    with serve(Fails()) as server:
        url = f"http://127.0.0.1:{server.port}"
        result = _infra("load", "--url", url, "--token", TOKEN, *BASE, "--json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert doc["error"]["kind"] == "LoadFailed"
    assert set(doc["load"]["errors"]) == {"http_500", "wrong_body", "reset"}
    assert result.stderr.startswith("error: "), "under --json stderr holds the error alone"
    assert "errors by kind" not in result.stderr


def test_the_capacity_search_reports_in_json_and_html(tmp_path):
    html = tmp_path / "capacity.html"
    with serve(Behaviour()) as server:
        url = f"http://127.0.0.1:{server.port}"
        result = _infra(
            "load", "--url", url, "--token", TOKEN, "--rate", "20", "--duration", "0.4", "--warmup", "0",
            "--find-capacity", "--max-steps", "2", "--tasks", "4", *UNTIMED, "--json", "--html", str(html),
        )  # fmt: skip
    doc = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    capacity = doc["capacity"]
    assert [step["rate"] for step in capacity["steps"]] == [20, 40]
    assert capacity["capacity_rps"] == 40
    assert capacity["per_task_rps"] == 10
    assert "step limit" in capacity["stopped"]
    assert "Capacity search" in html.read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mix", "heartbeat=2,delete=1"], "'delete' is not NAME=WEIGHT"),
        (["--mix", "heartbeat=0"], "every request kind a weight of 0"),
        (["--rate", "0"], "--rate 0 is not a number above 0"),
        (["--max-error-rate", "150"], "--max-error-rate is a percentage from 0 to 100"),
        (["--step-factor", "3"], "--step-factor go with --find-capacity"),
        (["--connections", "1", "--processes", "2"], "--connections 1 is below the 2 generator processes"),
        (["--stack", "dev"], "--stack and --url are alternatives"),
    ],
)
def test_bad_options_are_usage_errors_naming_the_option(infra, argv, message):
    result = infra("load", "--url", "http://127.0.0.1:9", "--token", TOKEN, *argv, code=2)
    assert message in result.stderr


def test_writes_without_a_token_are_refused_before_any_traffic(infra):
    result = infra("load", "--url", "http://127.0.0.1:9", code=2)
    assert "need a bearer token" in result.stderr
    assert "--mix heartbeat=1" in result.stderr
