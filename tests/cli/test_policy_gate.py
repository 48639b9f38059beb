"""`infra preview` and `infra up` give the policy pack to the engine and act on its verdict (scripted engines)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pulumi.automation import errors as auto_errors
from pulumi.automation import events as ev
from pulumi.automation._cmd import CommandResult

from cli.plan.policy.model import REGISTRY
from cli.plan.policy.pack_levels import PACK_DIR
from tests.cli import events
from tests.cli.fakes import OUTPUTS
from tests.cli.test_automation_engine import StubPulumi, _wire_stream

REPO = Path(__file__).resolve().parents[2]
DB_URN = events.urn("dev", events.DB, "main-db")
MULTI_AZ = "groundwork-3-multi-az"
ENCRYPTED = "groundwork-1-storage-encrypted"


def policy_event(policy: str, level: str, message: str, urn: str = DB_URN) -> ev.EngineEvent:
    """A policy event as the engine reports one of the pack's violations."""
    return ev.EngineEvent(
        sequence=900,
        timestamp=1_763_790_000,
        policy_event=ev.PolicyEvent(
            message=message,
            color="raw",
            policy_name=policy,
            policy_pack_name="groundwork",
            policy_pack_version="0.0.1",
            policy_pack_version_tag="0.0.1",
            enforcement_level=level,
            resource_urn=urn,
        ),
    )


UNENCRYPTED = policy_event(
    ENCRYPTED,
    "mandatory",
    "1. Database storage is encrypted (RDS.3; level E)\nstorageEncrypted is false\n"
    "fix: make 'Database storage is encrypted' hold for this resource (control 1 in docs/plan-and-policy.md), "
    "then check offline with `infra policy --stack dev`",
)
SINGLE_AZ = policy_event(MULTI_AZ, "advisory", "3. Database is Multi-AZ (RDS.5; level P)\nmultiAz is false\nfix: x")
PREVIEW_FAILED = auto_errors.CommandError(CommandResult(stdout="", stderr="error: preview failed\n", code=255))


def _capture_config(fake: Any) -> dict[str, Any]:
    """Reads the pack config while the engine call runs (the file is gone afterwards)."""
    seen: dict[str, Any] = {}
    original = fake.preview

    def preview(stack: str, on_event: Any, *, diff: bool = False, policy: Any = None, config: Any = None) -> None:
        if policy is not None:
            seen["packs"] = policy.packs
            seen["config"] = json.loads(Path(policy.configs[0]).read_text())
        original(stack, on_event, diff=diff, policy=policy, config=config)

    fake.preview = preview
    return seen


def test_preview_gives_the_pack_and_the_stack_levels_to_the_engine(infra, fake):
    seen = _capture_config(fake)
    fake.script("preview", events=events.first_deploy("dev", planning=True))
    doc = infra.json("preview", "--stack", "dev")
    assert seen["packs"] == (str(REPO / PACK_DIR),)
    assert seen["config"][MULTI_AZ] == {"enforcementLevel": "advisory", "production": False}
    assert seen["config"][ENCRYPTED]["enforcementLevel"] == "mandatory"
    assert doc["policy"] == {"pack": "groundwork", "skipped": False, "production": False, "ok": True, "violations": []}


def test_prod_is_protected_so_p_controls_are_mandatory(infra, fake):
    seen = _capture_config(fake)
    fake.script("preview", events=events.nothing_to_do("prod", planning=True))
    infra.json("preview", "--stack", "prod")
    assert seen["config"][MULTI_AZ] == {"enforcementLevel": "mandatory", "production": True}
    assert seen["config"]["groundwork-10-observability"]["enforcementLevel"] == "advisory"


def test_a_mandatory_violation_fails_preview_naming_control_resource_and_fix(infra, fake):
    fake.script("preview", events=[*events.first_deploy("dev", planning=True), UNENCRYPTED], error=PREVIEW_FAILED)
    doc = infra.json("preview", "--stack", "dev", code=1)
    error = doc["error"]
    assert error["kind"] == "PolicyViolation"
    assert "control 1 (Database storage is encrypted) on main-db (aws:rds/instance:Instance)" in error["message"]
    assert "storageEncrypted is false" in error["message"]
    assert "nothing was changed" in error["message"]
    assert error["hint"].startswith("make 'Database storage is encrypted' hold")
    assert doc["policy"]["ok"] is False
    assert doc["policy"]["violations"][0]["control"] == "1"


def test_a_mandatory_violation_stops_up_before_any_change(infra, fake):
    fake.script("preview", events=[*events.first_deploy("dev", planning=True), UNENCRYPTED], error=PREVIEW_FAILED)
    fake.script("up", events=events.first_deploy("dev", planning=False), result=OUTPUTS)
    result = infra("up", "--stack", "dev", "--yes", code=1)
    assert fake.called("up") == []
    assert "control 1 (Database storage is encrypted)" in result.stderr
    assert "make 'Database storage is encrypted' hold" in result.stderr


def test_advisory_violations_are_reported_and_up_goes_on(infra, fake):
    fake.script("preview", events=[*events.first_deploy("dev", planning=True), SINGLE_AZ])
    fake.script("up", events=events.first_deploy("dev", planning=False), result=OUTPUTS)
    result = infra("up", "--stack", "dev", "--yes", "--json", code=0)
    doc = json.loads(result.stdout)
    assert [kind for kind, _ in fake.policies] == ["preview", "up"]
    assert all(packs is not None for _, packs in fake.policies)
    assert doc["policy"]["ok"] is True
    assert doc["policy"]["violations"][0]["enforcement"] == "advisory"
    assert doc["policy"]["violations"][0]["message"] == "multiAz is false\nfix: x"
    assert result.stderr == "", "under --json the violations are the document's, not stderr's"
    told = infra("up", "--stack", "dev", "--yes", code=0)
    assert "policy advisory:" in told.stderr
    assert "control 3 (Database is Multi-AZ) on main-db" in told.stderr


def test_skip_policy_is_refused_on_a_protected_stack(infra, fake):
    doc = infra.json("up", "--stack", "prod", "--yes", "--skip-policy", code=2)
    assert doc["error"]["kind"] == "ConfirmationRefused"
    assert "protected stack 'prod'" in doc["error"]["message"]
    assert fake.calls == []


def test_skip_policy_on_dev_says_so_loudly_and_gives_no_pack(infra, fake):
    fake.script("preview", events=events.first_deploy("dev", planning=True))
    result = infra("preview", "--stack", "dev", "--skip-policy", "--json", code=0)
    assert fake.policies == [("preview", None)]
    assert json.loads(result.stdout)["policy"]["skipped"] is True
    assert result.stderr == ""
    told = infra("preview", "--stack", "dev", "--skip-policy", code=0)
    assert "POLICY CHECKS SKIPPED (--skip-policy)" in told.stderr


def test_the_real_automation_api_passes_the_pack_and_reads_its_events(infra, project, tmp_path, monkeypatch):
    stub = StubPulumi(tmp_path, monkeypatch)
    stub.on("stack", "select")
    violation = {
        "sequence": 50,
        "timestamp": 1763790002,
        "policyEvent": {
            "message": "1. Database storage is encrypted (RDS.3; level E)\nstorageEncrypted is false\nfix: encrypt it",
            "color": "raw",
            "policyName": ENCRYPTED,
            "policyPackName": "groundwork",
            "policyPackVersion": "0.0.1",
            "policyPackVersionTag": "0.0.1",
            "enforcementLevel": "mandatory",
            "resourceUrn": "urn:pulumi:dev::groundwork::aws:rds/instance:Instance::main-db",
        },
    }
    stub.on("preview", events=[*_wire_stream(planning=True), violation], stderr="error: preview failed\n", code=255)
    doc = infra.json("preview", "--stack", "dev", code=1)
    assert doc["error"]["kind"] == "PolicyViolation"
    assert doc["error"]["hint"] == "encrypt it"
    args = next(c for c in stub.calls() if "preview" in c["args"])["args"]
    assert args[args.index("--policy-pack") + 1] == str(REPO / PACK_DIR)
    assert args[args.index("--policy-pack-config") + 1].endswith("/dev.json")


def test_odd_policy_events_are_reported_not_crashed_on(infra, fake):
    odd = [
        policy_event("groundwork-999-unknown", "mandatory", "", urn="not-a-urn"),
        policy_event(MULTI_AZ, "advisory", "3. Database is Multi-AZ\n", urn=""),
        ev.EngineEvent(
            sequence=901,
            timestamp=1_763_790_000,
            policy_event=ev.PolicyEvent(
                message="x",
                color="raw",
                policy_name="other",
                policy_pack_name="someone-elses-pack",
                policy_pack_version="1",
                policy_pack_version_tag="1",
                enforcement_level="mandatory",
            ),
        ),
    ]
    fake.script("preview", events=[*events.first_deploy("dev", planning=True), *odd], error=PREVIEW_FAILED)
    doc = infra.json("preview", "--stack", "dev", code=1)
    assert doc["error"]["kind"] == "PolicyViolation"
    assert "control ? (groundwork-999-unknown) on not-a-urn" in doc["error"]["message"]
    assert [v["policy"] for v in doc["policy"]["violations"]] == ["groundwork-999-unknown", MULTI_AZ]


def test_several_mandatory_violations_are_each_listed(infra, fake):
    second = policy_event(
        "groundwork-2-not-public", "mandatory", "2. Database is not publicly accessible\npubliclyAccessible is true"
    )
    fake.script(
        "preview", events=[*events.first_deploy("dev", planning=True), UNENCRYPTED, second], error=PREVIEW_FAILED
    )
    result = infra("preview", "--stack", "dev", code=1)
    assert "2 violations" in result.stderr
    assert "control 1 (Database storage is encrypted) on main-db" in result.stderr
    assert "control 2 (Database is not publicly accessible) on main-db" in result.stderr
    assert "infra policy --stack dev" in result.stderr


@pytest.fixture
def isolated_registry():
    """User controls loaded by a test leave the registry and the module cache as they were."""
    saved = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(saved)
    for name in [m for m in sys.modules if m.startswith("_groundwork_policies.")]:
        del sys.modules[name]


def test_controls_whose_policy_names_collide_are_a_configuration_error(infra, fake, project, isolated_registry):
    policies = project / "policies"
    policies.mkdir()
    (policies / "house.py").write_text(
        "from cli.plan.policy import control\n\n\n"
        '@control("house 1", "one", sources=("house",), level="E")\n'
        "def rule(view):\n    return []\n\n\n"
        '@control("house-1", "two", sources=("house",), level="E")\n'
        "def rule_(view):\n    return []\n"
    )
    doc = infra.json("preview", "--stack", "dev", code=2)
    assert doc["error"]["kind"] == "ConfigError"
    assert "groundwork-house-1-rule" in doc["error"]["message"]
    assert fake.calls == []
