"""Every control passes on the committed dev and prod programs and catches a deliberate breakage of the program."""

from __future__ import annotations

import json
import pathlib

import pytest

from cli.plan.policy.evaluate import PolicyReport, evaluate, severity
from cli.plan.policy.loader import load_controls
from cli.plan.policy.model import REGISTRY
from stacks.settings import PROJECT_DIR
from tests.cli.plan.programs import MUTATIONS, SETTINGS_BREAKAGE, broken_by_arguments, broken_by_settings, planned

CONTROL_IDS = [str(n) for n in range(1, 44)]


@pytest.fixture(scope="module")
def controls():
    return [c for c in load_controls() if c.id in CONTROL_IDS]


@pytest.fixture(scope="module")
def reports(controls) -> dict[str, PolicyReport]:
    return {stack: evaluate(planned(stack), controls) for stack in ("dev", "prod")}


def _result(report: PolicyReport, control_id: str):
    return next(r for r in report.results if r.control.id == control_id)


def test_the_table_has_43_controls_with_sources_and_levels(controls) -> None:
    assert [c.id for c in controls] == CONTROL_IDS
    for c in controls:
        assert c.sources, c.id
        assert c.title, c.id
        assert all(part in "EPA" for part in c.level.split("/")), c.id


@pytest.mark.parametrize("control_id", CONTROL_IDS)
def test_control_passes_on_the_committed_programs(reports, control_id: str) -> None:
    for stack, report in reports.items():
        result = _result(report, control_id)
        errors = [f for f in result.findings if f.severity == "error"]
        assert not errors, f"{stack}: {result.findings}"
    prod = _result(reports["prod"], control_id)
    assert all(f.severity == "advisory" for f in prod.findings), prod.findings


@pytest.mark.parametrize("control_id", sorted(MUTATIONS, key=int))
def test_control_catches_a_changed_component_argument(controls, reports, control_id: str) -> None:
    before = {(f.urn, f.message) for f in _result(reports["prod"], control_id).findings}
    after = _result(evaluate(broken_by_arguments(), controls), control_id).findings
    new = [f for f in after if (f.urn, f.message) not in before]
    assert new, f"control {control_id} missed {MUTATIONS[control_id][0]}"
    assert new[0].severity in ("error", "advisory")


@pytest.mark.parametrize("control_id", sorted(SETTINGS_BREAKAGE, key=int))
def test_control_catches_a_changed_setting(controls, reports, control_id: str) -> None:
    before = {(f.urn, f.message) for f in _result(reports["prod"], control_id).findings}
    after = _result(evaluate(broken_by_settings(), controls), control_id).findings
    new = [f for f in after if (f.urn, f.message) not in before]
    assert new, f"control {control_id} missed the setting {SETTINGS_BREAKAGE[control_id]}"


def test_every_control_has_a_failing_case() -> None:
    assert set(MUTATIONS) | set(SETTINGS_BREAKAGE) == set(CONTROL_IDS)


def test_production_level_is_an_error_on_prod_and_a_warning_on_dev(controls) -> None:
    plan = planned("prod", overrides=(("protect", False), ("dbMultiAz", False)))
    on_prod = _result(evaluate(plan, controls), "3")
    on_dev = _result(evaluate(plan, controls, production=False), "3")
    assert on_prod.status == "error"
    assert on_dev.status == "warning"
    assert [severity(level, False) for level in "EPA"] == ["error", "warning", "advisory"]
    assert [severity(level, True) for level in "EPA"] == ["error", "error", "advisory"]


def test_an_unprotected_prod_stack_is_a_policy_error(controls) -> None:
    plan = planned("prod", overrides=(("protect", False), ("dbDeletionProtection", False)))
    result = _result(evaluate(plan, controls), "43")
    assert result.status == "error"
    urns = {f.urn for f in result.findings}
    assert any("rds/instance:Instance" in urn for urn in urns), urns
    assert any("s3/bucket:Bucket" in urn for urn in urns), urns
    assert _result(evaluate(plan, controls, production=False), "43").status == "warning"


def test_dev_reports_production_controls_as_warnings(reports) -> None:
    dev = reports["dev"]
    assert dev.ok
    assert _result(dev, "3").status == "warning"
    assert _result(dev, "5").status == "warning"
    assert reports["prod"].ok
    assert _result(reports["prod"], "3").status == "pass"


def test_a_project_module_in_policies_adds_a_control(tmp_path: pathlib.Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "naming.py").write_text(
        '"""House rule: databases are named after the stack."""\n'
        "from cli.plan.policy import Violation, control\n\n"
        '@control("house-1", "Database identifiers start with gw-", sources=("house",), level="E")\n'
        "def named(view):\n"
        '    for r in view.of("aws:rds/instance:Instance"):\n'
        '        if not r["inputs"]["identifier"].startswith("gw-"):\n'
        '            yield Violation(r["urn"], "identifier without gw-")\n'
        '        yield Violation(r["urn"], "always reported", level="A")\n'
    )
    try:
        found = {c.id: c for c in load_controls(tmp_path)}
        assert "house-1" in found
        result = _result(evaluate(planned("prod"), [found["house-1"]]), "house-1")
        assert [f.message for f in result.findings] == ["always reported"]
    finally:
        REGISTRY.pop("house-1", None)


def test_a_broken_policy_module_is_a_configuration_error(tmp_path: pathlib.Path) -> None:
    from cli.core.errors import ConfigError

    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "broken.py").write_text("raise RuntimeError('nope')\n")
    with pytest.raises(ConfigError, match=r"broken\.py failed to load"):
        load_controls(tmp_path)


def test_report_json_lists_every_control(reports) -> None:
    document = reports["prod"].to_json()
    json.dumps(document)
    assert [c["id"] for c in document["controls"]] == CONTROL_IDS
    assert document["counts"]["error"] == 0
    assert document["counts"]["pass"] + document["counts"].get("advisory", 0) == len(CONTROL_IDS)


def test_docs_list_every_control_with_its_function(controls) -> None:
    text = (PROJECT_DIR / "docs" / "plan-and-policy.md").read_text()
    for c in controls:
        assert f"| {c.id} | `{c.check.__name__}` " in text, c.id


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("postgresql://app@proxy.example:5432/app?sslmode=verify-full", True),
        ("postgresql://app:hunter2@proxy.example:5432/app", False),
        ("postgresql://app@proxy.example:5432/app?password=hunter2", False),
        ("not a url", False),
    ],
)
def test_a_plain_database_url_is_allowed_only_without_a_password(value: str, allowed: bool) -> None:
    from cli.plan.policy.controls.ecs import _passwordless_url

    assert _passwordless_url("DATABASE_URL", value) is allowed
    assert _passwordless_url("OTHER_URL", value) is False
