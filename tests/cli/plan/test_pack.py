"""The policy pack's validators, fed pulumi-policy's own argument types, give `infra policy`'s verdict per control."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
    proxy,
)
from pulumi_policy.policy import _PolicyAnalyzerServicer

from cli.plan.policy.evaluate import PolicyReport, evaluate
from cli.plan.policy.loader import load_controls
from cli.plan.policy.pack import UNKNOWN, ControlPolicy, pack_policies, plan_from_stack
from cli.plan.policy.pack_levels import PACK_DIR, pack_config, policies_by_name
from tests.cli.plan.programs import broken_by_arguments, broken_by_settings, planned

REPO = pathlib.Path(__file__).resolve().parents[3]
CONTROL_IDS = [str(n) for n in range(1, 43)]


@pytest.fixture(scope="module")
def controls():
    return [c for c in load_controls() if c.id in CONTROL_IDS]


def engine_resources(plan: dict[str, Any]) -> list[PolicyResource]:
    """The plan's resources as the engine hands them to a stack validation: outputs with the id, linked objects."""
    made: dict[str, PolicyResource] = {}
    for r in plan["resources"]:
        o = r["options"]
        props = dict(r["inputs"], id=r["id"]) if r["custom"] else dict(r["inputs"])
        options = PolicyResourceOptions(
            o["protect"], o["ignore_changes"], o["delete_before_replace"], [], None, o["additional_secret_outputs"]
        )
        made[r["urn"]] = PolicyResource(
            r["type"], proxy.unknown_checking_proxy(props), r["urn"], r["name"], options, None, None, [], {}
        )
    for r in plan["resources"]:
        resource = made[r["urn"]]
        resource.parent = made.get(r["parent"] or "")
        resource.dependencies = [made[u] for u in r["dependencies"] if u in made]
        resource.property_dependencies = {
            k: [made[u] for u in v if u in made] for k, v in r["property_dependencies"].items()
        }
    return list(made.values())


def pack_verdict(plan: dict[str, Any], policies: list[ControlPolicy], production: bool) -> dict[str, str]:
    """Per control: pass, or the worst enforcement level among the pack's violations."""
    args = StackValidationArgs(engine_resources(plan), {"production": production})
    verdict: dict[str, str] = {}
    for policy in policies:
        reported: list[tuple[str, str | None]] = []
        policy.validate(args, lambda message, urn=None, into=reported: into.append((message, urn)))
        current = verdict.get(policy.control.id, "pass")
        if reported:
            level = policy.enforcement_level.value
            current = "mandatory" if "mandatory" in (level, current) else level
        verdict[policy.control.id] = current
    return verdict


def policy_verdict(report: PolicyReport) -> dict[str, str]:
    """`infra policy`'s statuses in the pack's words: an error blocks (mandatory), anything else advises."""
    words = {"pass": "pass", "error": "mandatory", "warning": "advisory", "advisory": "advisory"}
    return {r.control.id: words[r.status] for r in report.results}


@pytest.mark.parametrize(("stack", "production"), [("dev", False), ("prod", True)])
def test_the_pack_gives_the_same_verdict_as_infra_policy_on_the_shipped_plans(controls, stack, production) -> None:
    plan = planned(stack)
    policies = pack_policies(controls, production=lambda: production)
    expected = policy_verdict(evaluate(plan, controls))
    assert pack_verdict(plan, policies, production) == expected
    # The shipped plans: dev warns on its P controls by design and is advised KMS for its log groups; prod, whose
    # log groups are on its own key, passes.
    assert {c for c, v in expected.items() if v == "advisory"} == (
        {"3", "4", "5", "6", "25", "35", "37"} if stack == "dev" else set()
    )
    assert "mandatory" not in expected.values()


@pytest.mark.parametrize("broken", [broken_by_arguments, broken_by_settings])
def test_the_pack_blocks_what_infra_policy_fails(controls, broken) -> None:
    plan = broken()
    expected = policy_verdict(evaluate(plan, controls))
    blocked = {c for c, v in expected.items() if v == "mandatory"}
    assert len(blocked) >= 5, expected
    assert pack_verdict(plan, pack_policies(controls, production=lambda: True), True) == expected


def test_a_violation_names_the_control_the_resource_and_the_fix(controls) -> None:
    plan = planned("dev")
    multi_az = next(p for p in pack_policies(controls, production=lambda: False) if p.control.id == "3")
    reported: list[tuple[str, str | None]] = []
    multi_az.validate(StackValidationArgs(engine_resources(plan), {}), lambda m, u=None: reported.append((m, u)))
    [(message, urn)] = reported
    assert urn is not None
    assert "aws:rds/instance:Instance" in urn
    assert "fix: make 'Database is Multi-AZ' hold" in message
    assert "infra policy --stack dev" in message
    assert multi_az.name == "groundwork-3-multi-az"
    assert multi_az.enforcement_level is EnforcementLevel.ADVISORY


def test_levels_follow_the_stack_e_always_p_on_production_a_never(controls) -> None:
    for production in (False, True):
        for policy in pack_policies(controls, production=lambda production=production: production):
            expected = {"E": "mandatory", "P": "mandatory" if production else "advisory", "A": "advisory"}
            assert policy.enforcement_level.value == expected[policy.level], policy.name


def test_the_config_names_every_policy_once_and_matches_the_levels(controls) -> None:
    names = policies_by_name(controls)
    assert len(names) == len(pack_policies(controls))
    config = pack_config(controls, production=False)
    assert config["groundwork-3-multi-az"] == {"enforcementLevel": "advisory", "production": False}
    assert config["groundwork-4-backup-retention-e"]["enforcementLevel"] == "mandatory"
    assert pack_config(controls, production=True)["groundwork-3-multi-az"]["enforcementLevel"] == "mandatory"


def test_values_unknown_during_preview_reach_the_controls_as_a_marker() -> None:
    props = {"id": proxy.UNKNOWN_STRING_VALUE, "tags": {"a": proxy.UNKNOWN_STRING_VALUE}, "n": 7.0}
    resource = PolicyResource(
        "aws:s3/bucket:Bucket",
        proxy.unknown_checking_proxy(props),
        "urn:pulumi:dev::groundwork::aws:s3/bucket:Bucket::b",
        "b",
        PolicyResourceOptions(False, [], None, [], None, []),
        None,
        None,
        [],
        {},
    )
    plan = plan_from_stack([resource])
    [item] = plan["resources"]
    assert plan["stack"] == "dev"
    assert item["inputs"] == {"id": UNKNOWN, "tags": {"a": UNKNOWN}, "n": 7}
    assert item["custom"] is True


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def test_the_engine_path_applies_the_config_levels(controls) -> None:
    """Through pulumi-policy's own analyzer service: Configure with the CLI's config, then AnalyzeStack."""
    plan = planned("dev")
    servicer = _PolicyAnalyzerServicer(
        "groundwork", "0.0.1", list(pack_policies(controls, production=lambda: True)), EnforcementLevel.ADVISORY
    )
    config = pack_config(controls, production=False)
    servicer.Configure(
        proto.ConfigureAnalyzerRequest(
            policyConfig={
                name: proto.PolicyConfig(
                    enforcementLevel=proto.ADVISORY if c["enforcementLevel"] == "advisory" else proto.MANDATORY,
                    properties=_struct({"production": c["production"]}),
                )
                for name, c in config.items()
            }
        ),
        None,
    )
    resources = [
        proto.AnalyzerResource(
            type=r["type"],
            urn=r["urn"],
            name=r["name"],
            properties=_struct(dict(r["inputs"], id=r["id"])),
            parent=r["parent"] or "",
            dependencies=r["dependencies"],
            propertyDependencies={
                k: proto.AnalyzerPropertyDependencies(urns=v) for k, v in r["property_dependencies"].items()
            },
        )
        for r in plan["resources"]
    ]
    response = servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None)
    mandatory = [d.policyName for d in response.diagnostics if d.enforcementLevel == proto.MANDATORY]
    advisory = {d.policyName for d in response.diagnostics if d.enforcementLevel == proto.ADVISORY}
    assert mandatory == []
    assert "groundwork-3-multi-az" in advisory
    assert "groundwork-37-log-retention-a" in advisory


def test_the_pack_directory_is_a_python_policy_pack() -> None:
    pack = REPO / PACK_DIR
    spec = yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())
    assert spec["runtime"]["name"] == "python"
    assert (pack / spec["runtime"]["options"]["virtualenv"]).resolve() == REPO / ".venv"
    main = (pack / "__main__.py").read_text()
    assert "serve(PROJECT_DIR)" in main
    assert "pulumi-policy" in (pack / "requirements.txt").read_text()


def test_the_pack_program_serves_the_policies_over_grpc_on_loopback() -> None:
    """Runs policy-pack/__main__.py as the Pulumi CLI would and asks it what it enforces."""
    process = subprocess.Popen(
        [sys.executable, "-u", str(REPO / PACK_DIR / "__main__.py")],
        cwd=REPO / PACK_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(process.stdout.readline().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            info = analyzer_pb2_grpc.AnalyzerStub(channel).GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    finally:
        process.kill()
        process.communicate()
    names = [p.name for p in info.policies]
    assert info.name == "groundwork"
    assert "groundwork-1-storage-encrypted" in names
    assert "groundwork-42-ingress" in names
    assert len(names) == len(set(names)) > 42
