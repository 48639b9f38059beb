"""`infra preview` over recorded engine event streams."""

from __future__ import annotations

from pulumi.automation import errors as auto_errors
from pulumi.automation._cmd import CommandResult

from tests.cli import events


def test_first_preview_lists_creates_and_data_holders(infra, fake):
    fake.script("preview", events=events.first_deploy("dev", planning=True))
    result = infra("preview", "--stack", "dev", code=0)
    assert fake.called("preview") == [{"diff": False}]
    assert "main-db" in result.stderr
    assert "holds data (database)" in result.stderr
    assert "5 to create" in result.stderr
    assert "warning:" not in result.stdout
    assert result.stdout == ""


def test_preview_json_is_one_document_with_counts(infra, fake):
    fake.script("preview", events=events.image_update("dev", planning=True))
    doc = infra.json("preview", "--stack", "dev")
    assert doc["ok"] is True
    assert doc["changes_present"] is True
    assert doc["counts"] == {"create": 0, "update": 1, "replace": 1, "delete": 0, "same": 3}
    by_name = {c["name"]: c for c in doc["changes"]}
    assert by_name["main-task"]["op"] == "replace"
    assert by_name["main-service"]["op"] == "update"
    assert "main-vpc" not in by_name


def test_detailed_exitcode_is_3_with_changes(infra, fake):
    fake.script("preview", events=events.image_update("dev", planning=True))
    infra("preview", "--stack", "dev", "--detailed-exitcode", code=3)


def test_detailed_exitcode_is_0_without_changes(infra, fake):
    fake.script("preview", events=events.nothing_to_do("dev", planning=True))
    result = infra("preview", "--stack", "dev", "--detailed-exitcode", code=0)
    assert "2 unchanged" in result.stderr


def test_detailed_exitcode_with_json_still_prints_the_document(infra, fake):
    fake.script("preview", events=events.image_update("dev", planning=True))
    doc = infra.json("preview", "--stack", "dev", "--detailed-exitcode", code=3)
    assert doc["changes_present"] is True


def test_diff_lists_changed_properties(infra, fake):
    fake.script("preview", events=events.image_update("dev", planning=True))
    result = infra("preview", "--stack", "dev", "--diff", code=0)
    assert fake.called("preview") == [{"diff": True}]
    assert "containerDefinitions (update-replace)" in result.stderr
    assert "taskDefinition (update)" in result.stderr


def test_program_failure_exits_1_with_the_engine_error(infra, fake):
    output = "error: an unhandled error occurred: setting 'serviceCpu' has value 3; allowed: 256, 512"
    fake.script(
        "preview",
        events=[events.prelude(), events.diagnostic(output, severity="error")],
        error=auto_errors.CommandError(CommandResult(stdout=output, stderr="", code=255)),
    )
    result = infra("preview", "--stack", "dev", code=1)
    assert "serviceCpu" in result.stderr
    assert "next:" in result.stderr


def test_failure_json_carries_error_and_partial_report(infra, fake):
    output = "error: preview failed"
    fake.script(
        "preview",
        events=[events.prelude(), events.diagnostic("resource main-db is invalid", severity="error")],
        error=auto_errors.CommandError(CommandResult(stdout="", stderr=output, code=255)),
    )
    doc = infra.json("preview", "--stack", "dev", code=1)
    assert doc["ok"] is False
    assert doc["error"]["exit_code"] == 1
    assert doc["error"]["kind"] == "OperationFailed"
    assert doc["report"]["diagnostics"][0]["message"] == "resource main-db is invalid"


def test_locked_stack_exits_4(infra, fake):
    stderr = "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end"
    fake.script("preview", error=auto_errors.ConcurrentUpdateError(CommandResult("", stderr, 255)))
    result = infra("preview", "--stack", "dev", code=4)
    assert "busy" in result.stderr


def test_missing_aws_credentials_give_a_hint(infra, fake):
    stderr = (
        "error: pulumi:providers:aws resource 'default' has a problem: No valid credential sources found.\n"
        "Error: failed to refresh cached credentials, no EC2 IMDS role found"
    )
    fake.script("preview", error=auto_errors.CommandError(CommandResult("", stderr, 255)))
    doc = infra.json("preview", "--stack", "dev", code=2)
    assert doc["error"]["kind"] == "CredentialsError"
    assert "aws sso login" in doc["error"]["hint"]


def test_bad_stack_settings_stop_before_the_engine(infra, fake, project):
    config = project / "Pulumi.dev.yaml"
    config.write_text(config.read_text().replace("serviceCpu: 256", "serviceCpu: 300"))
    doc = infra.json("preview", "--stack", "dev", code=2)
    assert doc["error"]["kind"] == "StackSettingsInvalid"
    assert "serviceCpu" in doc["error"]["message"]
    assert doc["setting"]["key"] == "groundwork:serviceCpu"
    assert doc["setting"]["value"] == 300
    assert fake.calls == []


def test_unknown_stack_is_a_usage_error(infra, fake):
    result = infra("preview", "--stack", "staging", code=2)
    assert "Pulumi.staging.yaml" in result.stderr
    assert "--stack dev" in result.stderr
    assert fake.calls == []
