"""`infra diff`: nothing on an unchanged program, crafted changes exactly, replacements and risks flagged."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import pytest

from cli.plan.base import base_plan
from cli.plan.diff import diff_plans
from cli.plan.document import dumps
from cli.plan.markdown import summary
from cli.plan.policy.evaluate import evaluate
from cli.plan.policy.loader import load_controls
from stacks.settings import PROJECT_DIR
from tests.cli.plan.programs import planned
from tests.mocks import config_values

DB_URN = "urn:pulumi:prod::groundwork::groundwork:database:Database$aws:rds/instance:Instance::gw-prod-db-instance"


def test_an_unchanged_program_has_no_diff() -> None:
    result = diff_plans(planned("prod"), planned("prod"))
    assert result.empty
    assert result.risks == []


def test_a_changed_setting_changes_exactly_its_properties() -> None:
    result = diff_plans(planned("prod"), planned("prod", overrides=(("dbInstanceClass", "db.r6g.large"),)))
    assert result.added == []
    assert result.removed == []
    assert [(c.urn, [(p.path, p.before, p.after) for p in c.changes]) for c in result.changed] == [
        (DB_URN, [("inputs.instanceClass", config_values("prod")[1]["dbInstanceClass"], "db.r6g.large")])
    ]
    assert result.changed[0].replaced_by == []
    assert result.risks == []


def test_a_renamed_database_is_a_flagged_replacement() -> None:
    result = diff_plans(planned("prod"), planned("prod", mutations=("1",)))
    (db,) = [c for c in result.changed if c.urn == DB_URN]
    assert db.replaced_by == ["storageEncrypted"]
    kinds = {(r.kind, r.urn) for r in result.risks}
    assert ("replacement", DB_URN) in kinds
    assert ("loosened", DB_URN) in kinds


def test_protection_removed_deletion_and_public_ingress_are_risks() -> None:
    base = planned("prod")
    head = json.loads(dumps(base))
    head["resources"] = [r for r in head["resources"] if not r["name"].endswith("store-app-public-access")]
    for r in head["resources"]:
        if r["urn"] == DB_URN:
            r["options"]["protect"] = False
        if r["name"] == "gw-prod-net-service-to-proxy-in":
            r["inputs"]["cidrIpv4"] = "0.0.0.0/0"
    result = diff_plans(base, head)
    assert {r.kind for r in result.risks} == {"protection-removed", "loosened"}
    assert [r["name"] for r in result.removed] == ["gw-prod-store-app-public-access"]
    messages = sorted(r.message for r in result.risks)
    assert messages == ["BucketPublicAccessBlock removed", "ingress opened to 0.0.0.0/0", "protect option removed"]


def test_added_and_removed_resources_by_urn() -> None:
    result = diff_plans(planned("dev"), planned("dev", overrides=(("bastion", False),)))
    assert result.added == []
    removed = {r["type"] for r in result.removed}
    assert "aws:ec2/instance:Instance" in removed
    assert all("bastion" in r["urn"] for r in result.removed)


def test_markdown_summary_has_the_risks_and_the_failing_controls() -> None:
    head = planned("prod", mutations=("1",))
    report = evaluate(head, [c for c in load_controls() if c.id == "1"])
    text = summary(report, diff_plans(planned("prod"), head), "origin/main")
    assert "policy fails" in text
    assert "**replacement**" in text
    assert "| 1 Database storage is encrypted | E | ❌ error |" in text


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A git repository with the program committed, then prod's settings changed in the working tree."""
    root = tmp_path_factory.mktemp("repo")
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml"):
        shutil.copy(PROJECT_DIR / name, root / name)
    for name in ("infra", "stacks", "app_image"):
        shutil.copytree(PROJECT_DIR / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    stack_file = root / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace("dbMultiAz: true", "dbMultiAz: false"))
    return root


def test_base_at_a_git_ref_is_planned_from_that_tree(repository: pathlib.Path) -> None:
    from cli.plan.build import plan_stack

    before, label = base_plan("HEAD", "prod", repository)
    assert label.startswith("HEAD (")
    assert dumps(before) == dumps(planned("prod"))
    result = diff_plans(before, plan_stack("prod", repository))
    assert [(c.urn, [(p.path, p.before, p.after) for p in c.changes]) for c in result.changed] == [
        (DB_URN, [("inputs.multiAz", True, False)])
    ]


def test_base_that_is_neither_file_nor_ref_is_a_usage_error(repository: pathlib.Path) -> None:
    from cli.core.errors import ConfigError

    with pytest.raises(ConfigError, match="neither a plan file nor a git ref"):
        base_plan("no-such-ref", "prod", repository)


def test_cli_diff_against_a_saved_plan(infra, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRA_PROJECT_DIR", str(PROJECT_DIR))
    saved = tmp_path / "base.json"
    base = json.loads(dumps(planned("dev")))
    for r in base["resources"]:
        if r["type"] == "aws:rds/instance:Instance":
            r["inputs"]["identifier"] = "gw-dev-old"
    saved.write_text(dumps(base))
    doc = infra.json("diff", "--stack", "dev", "--base", str(saved))
    (changed,) = doc["changed"]
    assert changed["replace"] is True
    assert changed["replaced_by"] == ["identifier"]
    assert [r["kind"] for r in doc["risks"]] == ["replacement"]
    wrong = tmp_path / "prod.json"
    wrong.write_text(dumps(planned("prod")))
    assert "not 'dev'" in infra("diff", "--stack", "dev", "--base", str(wrong), code=2).stderr


def test_cli_policy_exit_codes_and_markdown(infra, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRA_PROJECT_DIR", str(PROJECT_DIR))
    dev = tmp_path / "dev.json"
    dev.write_text(dumps(planned("dev")))
    note = tmp_path / "dev.md"
    doc = infra.json("policy", "--stack", "dev", "--plan", str(dev), "--base", str(dev), "--markdown", str(note))
    assert doc["ok"] is True
    assert "policy passes" in note.read_text()
    prod = tmp_path / "prod.json"
    prod.write_text(dumps(planned("prod")))
    assert infra.json("policy", "--stack", "prod", "--plan", str(prod))["ok"] is True
    broken = tmp_path / "broken.json"
    broken.write_text(dumps(planned("prod", mutations=("1",))))
    failed = infra("policy", "--stack", "prod", "--plan", str(broken), "--json", code=1)
    assert json.loads(failed.stdout)["counts"]["error"] == 1
