"""`infra outputs` (secrets hidden by default), `infra refresh` and `infra stacks`."""

from __future__ import annotations

import os
from datetime import datetime

from pulumi.automation import errors as auto_errors
from pulumi.automation._cmd import CommandResult

from cli.cloud.engine import StackInfo
from tests.cli import events
from tests.cli.fakes import OUTPUTS


def test_outputs_hide_secrets(infra, fake):
    fake.script("outputs", result=OUTPUTS)
    result = infra("outputs", "--stack", "dev", code=0)
    assert "https://api.dev.example.com" in result.stdout  # what was asked for, so it can be piped
    assert "secret:db-AbCd" not in result.stderr + result.stdout
    assert "[secret]" in result.stdout
    assert "--show-secrets" in result.stderr


def test_outputs_show_secrets_when_asked(infra, fake):
    fake.script("outputs", result=OUTPUTS)
    doc = infra.json("outputs", "--stack", "dev", "--show-secrets")
    assert doc["outputs"]["database_secret_arn"].endswith("secret:db-AbCd")
    assert doc["secrets_hidden"] == []


def test_outputs_json_masks_secrets(infra, fake):
    fake.script("outputs", result=OUTPUTS)
    doc = infra.json("outputs", "--stack", "dev")
    assert doc["outputs"]["database_secret_arn"] == "[secret]"
    assert doc["outputs"]["user_pool_id"] == "eu-west-1_AbCdEfGhI"
    assert doc["outputs"]["service_url"] == "https://api.dev.example.com"


def test_outputs_of_a_stack_never_deployed(infra, fake):
    fake.script(
        "outputs",
        error=auto_errors.StackNotFoundError(CommandResult("", "error: no stack named 'dev' found", 255)),
    )
    doc = infra.json("outputs", "--stack", "dev", code=2)
    assert doc["error"]["kind"] == "StackNotFound"
    assert "infra up --stack dev" in doc["error"]["hint"]


def test_refresh_reports_drift(infra, fake):
    fake.script("refresh", events=events.drift("dev"))
    doc = infra.json("refresh", "--stack", "dev")
    assert doc["operation"] == "refresh"
    assert doc["counts"]["update"] == 1
    assert [c["name"] for c in doc["changes"]] == ["main-app-bucket"]
    assert doc["changes"][0]["diffs"] == ["tags"]


def test_refresh_human_output(infra, fake):
    fake.script("refresh", events=events.drift("dev"))
    result = infra("refresh", "--stack", "dev", code=0)
    assert "updated  main-app-bucket" in result.stderr
    assert "1 to update" in result.stderr


def test_stacks_merges_configured_and_deployed(infra, fake):
    fake.script(
        "list_stacks",
        result=[
            StackInfo("organization/groundwork/dev", datetime(2026, 11, 20, 9, 30), 57, False, None),
            StackInfo("it-1234", None, 0, True, None),
        ],
    )
    doc = infra.json("stacks")
    rows = {r["name"]: r for r in doc["stacks"]}
    assert set(rows) == {"dev", "prod", "it-1234"}
    assert rows["dev"] == {
        "name": "dev",
        "configured": True,
        "needs_pulumi": True,
        "deployed": True,
        "last_update": "2026-11-20T09:30:00",
        "resource_count": 57,
        "update_in_progress": False,
    }
    assert rows["prod"]["deployed"] is False
    assert rows["it-1234"]["configured"] is False
    assert doc["backend"].startswith("file://")


def test_stacks_table(infra, fake):
    fake.script("list_stacks", result=[StackInfo("dev", None, 12, True, None)])
    result = infra("stacks", code=0)
    assert "update in progress" in result.stdout
    assert "never" in result.stdout
    assert "needs Pulumi CLI" in result.stdout


def test_stacks_without_the_pulumi_cli_lists_the_stack_files(infra, project, monkeypatch, tmp_path):
    (project / "Pulumi.local.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    result = infra("stacks", "--json", code=0)
    import json

    doc = json.loads(result.stdout)
    rows = {r["name"]: r for r in doc["stacks"]}
    assert set(rows) == {"dev", "local", "prod"}
    assert rows["local"]["needs_pulumi"] is False
    assert rows["dev"]["needs_pulumi"] is True
    assert rows["dev"]["deployed"] is None
    assert "not installed" in doc["backend_unavailable"]["message"]
    assert result.stderr == "", "under --json the note is the document's backend_unavailable, not stderr"


def test_stacks_reads_the_local_stack_from_its_own_files(infra, project, monkeypatch, tmp_path):
    (project / "Pulumi.local.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    local_dir = tmp_path / "local-stack"
    monkeypatch.setenv("INFRA_LOCAL_DIR", str(local_dir))
    rows = {r["name"]: r for r in infra.json("stacks")["stacks"]}
    assert (rows["local"]["deployed"], rows["local"]["last_update"]) == (False, None)
    local_dir.mkdir()
    (local_dir / "state.json").write_text("{}")
    os.utime(local_dir / "state.json", (1_795_000_000, 1_795_000_000))
    rows = {r["name"]: r for r in infra.json("stacks")["stacks"]}
    assert rows["local"]["deployed"] is True
    assert rows["local"]["last_update"] == "2026-11-18T11:06:40+00:00"
