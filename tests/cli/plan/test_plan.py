"""`infra plan`: deterministic, complete, secrets redacted, the same in this process and in a fresh one."""

from __future__ import annotations

import json
import pathlib

import pytest

from cli.plan.build import plan_in_subprocess
from cli.plan.document import REDACTED, dumps, plan_document
from cli.plan.recorder import is_secret
from stacks.settings import PROJECT_DIR
from tests.cli.plan.programs import planned, record

DB = "aws:rds/instance:Instance"


def _by_type(plan: dict, token: str) -> list[dict]:
    return [r for r in plan["resources"] if r["type"] == token]


@pytest.fixture(autouse=True)
def _project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRA_PROJECT_DIR", str(PROJECT_DIR))


def test_two_plans_of_the_same_tree_are_byte_identical() -> None:
    first = dumps(plan_document(record("prod"), PROJECT_DIR))
    second = dumps(plan_document(record("prod"), PROJECT_DIR))
    assert first == second
    assert dumps(plan_in_subprocess("prod", PROJECT_DIR)) == first


def test_resources_are_sorted_by_urn_with_their_graph_and_options() -> None:
    plan = planned("prod")
    urns = [r["urn"] for r in plan["resources"]]
    assert urns == sorted(urns)
    custom = [r for r in plan["resources"] if r["custom"] and not r["type"].startswith("pulumi:providers:")]
    assert plan["cloud_resource_count"] == len(custom) > 100
    assert plan["resource_count"] == len(plan["resources"]) > len(custom)
    (db,) = _by_type(plan, DB)
    assert db["options"]["protect"] is True
    assert db["provider"] == "urn:pulumi:prod::groundwork::pulumi:pulumi:Stack$pulumi:providers:aws::gw-prod-aws"
    assert db["parent"].endswith("groundwork:database:Database::gw-prod-db")
    (params,) = _by_type(plan, "aws:rds/parameterGroup:ParameterGroup")
    assert params["urn"] in db["dependencies"]
    assert db["property_dependencies"]["parameterGroupName"] == [params["urn"]]
    (service,) = [s for s in _by_type(plan, "aws:ecs/service:Service") if s["name"].endswith("-api-service")]
    assert service["options"]["ignore_changes"] == ["desiredCount"]
    (dev_db,) = _by_type(planned("dev"), DB)
    assert dev_db["options"]["protect"] is False


def test_secrets_never_appear_in_a_plan() -> None:
    recording = record("prod", overrides=(("alarmEmail", "ops@example.com"),))
    text = dumps(plan_document(recording, PROJECT_DIR))
    leaked: list[str] = []
    for r in recording.resources:
        for value in r.wrapped_inputs.values():
            if is_secret(value):
                leaked += _strings(value["value"])
        if r.type == "random:index/randomPassword:RandomPassword":
            leaked.append(r.state["result"])
    assert len(leaked) >= 5
    for secret in leaked:
        assert secret not in text, f"secret value {secret[:6]}… is in the plan"
    versions = _by_type(json.loads(text), "aws:secretsmanager/secretVersion:SecretVersion")
    assert versions
    assert {v["inputs"]["secretString"] for v in versions} == {REDACTED}


def _strings(value, key: str = "") -> list[str]:
    """The secret's text itself, or the password-like fields of a structured secret (registry logins)."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, key)]
    wanted = key == "" or "password" in key.lower() or "token" in key.lower()
    return [value] if wanted and isinstance(value, str) and len(value) >= 6 else []


def test_plan_holds_no_absolute_project_path() -> None:
    text = dumps(planned("prod"))
    assert str(PROJECT_DIR) not in text
    (image,) = _by_type(planned("prod"), "docker-build:index:Image")
    assert image["inputs"]["context"] == {"location": "app_image"}


def test_cli_plan_json_is_one_document_and_out_is_the_same_bytes(infra, tmp_path: pathlib.Path) -> None:
    out = tmp_path / "plan.json"
    result = infra("plan", "--stack", "dev", "--json", "--out", str(out), code=0)
    assert json.loads(result.stdout) == planned("dev")
    assert out.read_text() == result.stdout == dumps(planned("dev"))
    assert result.stderr == "", "under --json the tree is left out; the document holds it"


def test_cli_plan_tree_goes_to_stdout_with_both_counts_named(infra) -> None:
    result = infra("plan", "--stack", "dev", code=0)
    plan = planned("dev")
    assert "gw-dev-db-instance" in result.stdout  # `infra plan | grep` finds it
    assert f"{len(plan['resources'])} resources ({plan['cloud_resource_count']} cloud resources" in result.stdout


def test_cli_plan_shows_the_local_stack_and_refuses_unknown_stacks(infra) -> None:
    local = json.loads(infra("plan", "--json", code=0).stdout)  # Pulumi.local.yaml: what `up --stack local` realises
    assert local["stack"] == "local"
    assert any(r["type"] == "aws:rds/instance:Instance" for r in local["resources"])
    assert "Pulumi.nope.yaml" in infra("plan", "--stack", "nope", code=2).stderr


def test_a_run_leaves_no_event_loop_open_for_the_garbage_collector() -> None:
    """Pulumi's mock monitor opens a loop on each worker thread; one left unclosed can fail at interpreter exit."""
    import gc
    import threading
    import time
    import warnings

    from tests.mocks import run, settings_for

    threads_before = threading.active_count()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        run(settings_for("dev"))
        deadline = time.monotonic() + 5
        while threading.active_count() > threads_before and time.monotonic() < deadline:
            time.sleep(0.01)
        gc.collect()
    unclosed = [str(w.message) for w in caught if "unclosed event loop" in str(w.message)]
    assert unclosed == []


def test_a_component_refusing_its_arguments_is_a_failed_plan_not_an_internal_error(infra, monkeypatch) -> None:
    import infra as components
    from stacks import program

    def build(settings):
        raise components.invalid("domain_name", "x" * 300, "a lowercase host name")

    monkeypatch.setattr(program, "build", build)
    refused = infra("plan", "--stack", "dev", code=1).stderr
    assert "a component of the program refused its arguments: domain_name=" in refused
    assert "Pulumi.dev.yaml" in refused
    assert "internal error" not in refused
