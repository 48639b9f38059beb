"""`infra up`: preview first, confirmation, live progress, outputs, failures."""

from __future__ import annotations

from pulumi.automation import errors as auto_errors
from pulumi.automation._cmd import CommandResult

from tests.cli import events
from tests.cli.fakes import OUTPUTS


def _script_first_deploy(fake, stack="dev"):
    fake.script("preview", events=events.first_deploy(stack, planning=True))
    fake.script("up", events=events.first_deploy(stack, planning=False), result=OUTPUTS)


def test_up_yes_applies_with_progress_and_hides_secret_outputs(infra, fake):
    _script_first_deploy(fake)
    result = infra("up", "--stack", "dev", "--yes", code=0)
    assert [c for c, _, _ in fake.calls] == ["preview", "up"]
    assert "created  main-db" in result.stderr
    assert "created  main-app-bucket" in result.stderr
    assert "warning: aws: the default VPC is not used" in result.stderr
    assert "https://api.dev.example.com" in result.stderr
    assert "secret:db-AbCd" not in result.stderr + result.stdout
    assert "1 secret output(s) hidden" in result.stderr
    assert "applied dev: 5 created" in result.stderr
    assert result.stdout == ""


def test_up_json_document(infra, fake):
    _script_first_deploy(fake)
    doc = infra.json("up", "--stack", "dev", "--yes")
    assert doc["ok"] is True
    assert doc["preview"]["counts"]["create"] == 5
    assert doc["applied"]["counts"]["create"] == 5
    assert doc["applied"]["duration_seconds"] == 42
    assert doc["outputs"]["service_url"] == "https://api.dev.example.com"
    assert doc["outputs"]["database_secret_arn"] == "[secret]"
    assert doc["secrets_hidden"] == ["database_secret_arn"]


def test_up_without_yes_on_a_pipe_refuses_before_applying(infra, fake):
    _script_first_deploy(fake)
    result = infra("up", "--stack", "dev", code=2)
    assert fake.called("up") == []
    assert "--yes" in result.stderr
    assert "main-db" in result.stderr


def test_up_asks_on_a_terminal_and_applies_on_yes(infra, fake, terminal):
    _script_first_deploy(fake)
    result = infra("up", "--stack", "dev", input="y\n", code=0)
    assert "Apply these changes to dev?" in result.stderr
    assert len(fake.called("up")) == 1


def test_up_asks_on_a_terminal_and_stops_on_no(infra, fake, terminal):
    _script_first_deploy(fake)
    result = infra("up", "--stack", "dev", input="n\n", code=2)
    assert "nothing was changed" in result.stderr
    assert fake.called("up") == []


def test_up_with_nothing_to_change_does_not_apply(infra, fake):
    fake.script("preview", events=events.nothing_to_do("dev", planning=True))
    fake.script("outputs", result=OUTPUTS)
    result = infra("up", "--stack", "dev", code=0)
    assert fake.called("up") == []
    assert "no changes to apply" in result.stderr


def test_up_failure_shows_the_failed_resource_and_exits_1(infra, fake):
    fake.script("preview", events=events.first_deploy("dev", planning=True))
    fake.script(
        "up",
        events=events.failing_deploy("dev"),
        error=auto_errors.CommandError(
            CommandResult(
                stdout="",
                stderr="error: update failed\nerror: 1 error occurred: creating RDS DB Instance (main-db)",
                code=255,
            )
        ),
    )
    result = infra("up", "--stack", "dev", "--yes", code=1)
    assert "x failed  main-db" in result.stderr
    assert "InvalidParameterCombination" in result.stderr
    assert "<{%" not in result.stderr
    assert "creating RDS DB Instance (main-db)" in result.stderr


def test_up_failure_json_lists_the_failed_resource(infra, fake):
    fake.script("preview", events=events.first_deploy("dev", planning=True))
    fake.script(
        "up",
        events=events.failing_deploy("dev"),
        error=auto_errors.CommandError(CommandResult("", "error: update failed", 255)),
    )
    doc = infra.json("up", "--stack", "dev", "--yes", code=1)
    assert [f["name"] for f in doc["report"]["failed"]] == ["main-db"]
    assert doc["report"]["failed"][0]["holds_data"] == "database"
    assert any("InvalidParameterCombination" in d["message"] for d in doc["report"]["diagnostics"])


def test_up_on_a_busy_stack_exits_4(infra, fake):
    fake.script("preview", events=events.first_deploy("dev", planning=True))
    fake.script(
        "up",
        error=auto_errors.ConcurrentUpdateError(
            CommandResult("", "error: [409] Conflict: Another update is currently in progress.", 255)
        ),
    )
    doc = infra.json("up", "--stack", "dev", "--yes", code=4)
    assert doc["error"]["kind"] == "StackBusy"
    assert doc["error"]["exit_code"] == 4


def test_replace_stream_reports_replace_once_per_resource(infra, fake):
    fake.script("preview", events=events.image_update("dev", planning=True))
    fake.script("up", events=events.image_update("dev", planning=False), result=OUTPUTS)
    doc = infra.json("up", "--stack", "dev", "--yes")
    changes = doc["applied"]["changes"]
    assert [(c["name"], c["op"], c["status"]) for c in changes] == [
        ("main-task", "replace", "done"),
        ("main-service", "update", "done"),
    ]
