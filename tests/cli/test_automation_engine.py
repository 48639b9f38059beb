"""The real AutomationEngine and Automation API, talking to a scripted `pulumi` executable on PATH."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cli.cloud import engine as engine_module

STUB = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["PULUMI_STUB_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "backend": os.environ.get("PULUMI_BACKEND_URL")}}) + "\\n")
for rule in json.load(open(os.environ["PULUMI_STUB_RULES"])):
    if all(token in args for token in rule["when"]):
        if "--event-log" in args:
            with open(args[args.index("--event-log") + 1], "a") as events:
                for event in rule.get("events", []) + [{{"cancelEvent": {{}}}}]:
                    events.write(json.dumps(event) + "\\n")
        sys.stdout.write(rule.get("stdout", ""))
        sys.stderr.write(rule.get("stderr", ""))
        sys.exit(rule.get("code", 0))
sys.stderr.write("error: the test did not script: " + " ".join(args) + "\\n")
sys.exit(255)
"""


class StubPulumi:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.rules_path = root / "rules.json"
        self.log_path = root / "calls.jsonl"
        exe = self.bin / "pulumi"
        exe.write_text(STUB.format(python=sys.executable))
        exe.chmod(0o755)
        self.rules: list[dict] = [{"when": ["version"], "stdout": "v3.201.0\n"}]
        monkeypatch.setenv("PATH", f"{self.bin}:/usr/bin:/bin")
        monkeypatch.setenv("PULUMI_STUB_RULES", str(self.rules_path))
        monkeypatch.setenv("PULUMI_STUB_LOG", str(self.log_path))
        self.save()

    def on(self, *when: str, stdout: str = "", stderr: str = "", code: int = 0, events: list | None = None) -> None:
        rule = {"when": list(when), "stdout": stdout, "stderr": stderr, "code": code, "events": events or []}
        self.rules.append(rule)
        self.save()

    def save(self) -> None:
        self.rules_path.write_text(json.dumps(self.rules))

    def calls(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]


@pytest.fixture
def stub(project, tmp_path, monkeypatch) -> StubPulumi:
    """The real engine (no fake), over a scripted pulumi binary."""
    assert engine_module.create_engine.__module__ == "cli.cloud.engine"
    return StubPulumi(tmp_path, monkeypatch)


def test_locked_stack_through_the_real_automation_api_exits_4(infra, stub, project):
    stub.on(
        "stack",
        "select",
        stderr="error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end",
        code=255,
    )
    doc = infra.json("preview", "--stack", "dev", code=4)
    assert doc["error"]["kind"] == "StackBusy"
    select = [c for c in stub.calls() if "select" in c["args"]]
    assert select[0]["backend"] == f"file://{project}/.infra/state"
    assert (project / ".infra" / "state").is_dir()


def test_unknown_stack_in_the_backend_exits_2(infra, stub):
    stub.on("stack", "select", stderr="error: no stack named 'dev' found", code=255)
    doc = infra.json("outputs", "--stack", "dev", code=2)
    assert doc["error"]["kind"] == "StackNotFound"


def test_outputs_through_the_real_automation_api_mask_secrets(infra, stub):
    stub.on("stack", "select")
    plain = {"service_url": "https://api.dev.example.com", "database_secret_arn": "arn:aws:secret:db"}
    masked = {"service_url": "https://api.dev.example.com", "database_secret_arn": "[secret]"}
    stub.on("stack", "output", "--show-secrets", stdout=json.dumps(plain))
    stub.on("stack", "output", stdout=json.dumps(masked))
    doc = infra.json("outputs", "--stack", "dev")
    assert doc["outputs"] == masked
    assert doc["secrets_hidden"] == ["database_secret_arn"]
    shown = infra.json("outputs", "--stack", "dev", "--show-secrets")
    assert shown["outputs"] == plain


def test_stacks_through_the_real_automation_api(infra, stub, monkeypatch):
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://team-state")
    listing = [
        {"name": "dev", "current": False, "lastUpdate": "2026-11-20T09:30:00.000Z", "resourceCount": 57},
        {"name": "prod", "current": False, "updateInProgress": True, "resourceCount": 80},
    ]
    stub.on("stack", "ls", "--json", stdout=json.dumps(listing))
    doc = infra.json("stacks")
    assert doc["backend"] == "s3://team-state"
    rows = {r["name"]: r for r in doc["stacks"]}
    assert rows["dev"]["resource_count"] == 57
    assert rows["dev"]["last_update"] == "2026-11-20T09:30:00"
    assert rows["prod"]["update_in_progress"] is True
    assert all(c["backend"] == "s3://team-state" for c in stub.calls() if "ls" in c["args"])


def test_expired_credentials_during_preview_give_a_sign_in_hint(infra, stub):
    stub.on("stack", "select")
    stub.on(
        "preview",
        stderr="error: pulumi:providers:aws resource 'default-aws' has a problem: "
        "ExpiredToken: The security token included in the request is expired\n",
        code=255,
    )
    doc = infra.json("preview", "--stack", "dev", code=2)
    assert doc["error"]["kind"] == "CredentialsError"
    preview_call = next(c for c in stub.calls() if "preview" in c["args"])
    assert "--event-log" in preview_call["args"]


def _wire_step(op: str, name: str, type_: str, seq: int, planning: bool) -> list[dict]:
    """A step as the Pulumi CLI writes it to the event log (camelCase JSON)."""
    urn = f"urn:pulumi:dev::groundwork::{type_}::{name}"
    metadata = {
        "op": op,
        "urn": urn,
        "type": type_,
        "provider": "urn:pulumi:dev::groundwork::pulumi:providers:aws::default::0",
        "new": {"type": type_, "urn": urn, "id": "", "parent": "", "provider": "", "custom": True},
        "diffs": [],
        "detailedDiff": None,
    }
    pre = {"sequence": seq, "timestamp": 1763790000, "resourcePreEvent": {"metadata": metadata}}
    done = {"sequence": seq + 1, "timestamp": 1763790001, "resOutputsEvent": {"metadata": metadata}}
    if planning:
        pre["resourcePreEvent"]["planning"] = True
        done["resOutputsEvent"]["planning"] = True
    return [pre, done]


def _wire_stream(planning: bool) -> list[dict]:
    events = [{"sequence": 1, "timestamp": 1763790000, "preludeEvent": {"config": {"aws:region": "eu-west-1"}}}]
    events += _wire_step("create", "groundwork-dev", "pulumi:pulumi:Stack", 2, planning)
    events += _wire_step("create", "main-db", "aws:rds/instance:Instance", 4, planning)
    events += _wire_step("create", "main-app-bucket", "aws:s3/bucketV2:BucketV2", 6, planning)
    events.append(
        {
            "sequence": 8,
            "timestamp": 1763790002,
            "diagnosticEvent": {"message": "<{%fg 3%}>heads up<{%reset%}>\n", "color": "raw", "severity": "warning"},
        }
    )
    events.append(
        {
            "sequence": 9,
            "timestamp": 1763790003,
            "summaryEvent": {"maybeCorrupt": False, "durationSeconds": 7, "resourceChanges": {"create": 3}},
        }
    )
    return events


def test_preview_events_from_the_event_log_reach_the_report(infra, stub):
    stub.on("stack", "select")
    stub.on("preview", events=_wire_stream(planning=True), stdout="Previewing update (dev)\n")
    doc = infra.json("preview", "--stack", "dev", "--detailed-exitcode", code=3)
    assert doc["counts"]["create"] == 3
    assert [(c["name"], c["holds_data"]) for c in doc["changes"]] == [
        ("main-db", "database"),
        ("main-app-bucket", "bucket"),
    ]
    assert doc["diagnostics"] == [{"severity": "warning", "message": "heads up", "urn": None}]


def test_up_through_the_real_automation_api(infra, stub):
    stub.on("stack", "select")
    stub.on("preview", events=_wire_stream(planning=True))
    stub.on("up", events=_wire_stream(planning=False))
    stub.on("stack", "output", "--show-secrets", stdout=json.dumps({"service_url": "https://x", "db": "arn:db"}))
    stub.on("stack", "output", stdout=json.dumps({"service_url": "https://x", "db": "[secret]"}))
    history = [
        {
            "kind": "update",
            "startTime": "2026-11-22T06:00:00.000Z",
            "endTime": "2026-11-22T06:00:07.000Z",
            "message": "",
            "environment": {},
            "config": {},
            "result": "succeeded",
            "version": 1,
            "resourceChanges": {"create": 3},
        }
    ]
    stub.on("stack", "history", stdout=json.dumps(history))
    result = infra("up", "--stack", "dev", "--yes", code=0)
    assert "created  main-db" in result.stderr
    assert "arn:db" not in result.stderr
    doc = infra.json("up", "--stack", "dev", "--yes")
    assert doc["applied"]["counts"]["create"] == 3
    assert doc["outputs"] == {"db": "[secret]", "service_url": "https://x"}
    up_call = next(c for c in stub.calls() if c["args"][1:2] == ["up"])
    assert "--yes" in up_call["args"]
    assert "--color" in up_call["args"]
