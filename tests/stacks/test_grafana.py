"""Grafana only when a stack names one: the provider, the CloudWatch data source and the dashboard, or nothing."""

from __future__ import annotations

import json
import pathlib

import pytest
import yaml

from cli.plan.document import grafana_dashboard
from stacks import outputs
from stacks.settings import SettingsError, load_stack_settings
from tests.mocks import config_values, recorded, run, settings_for

GRAFANA_URL = "https://grafana.example.com"


def test_a_program_without_grafana_settings_declares_nothing_in_grafana() -> None:
    for stack in ("dev", "prod"):
        rec = recorded(stack)
        assert [r.urn for r in rec.resources if "grafana" in r.type] == []
        assert rec.exports[outputs.GRAFANA_DASHBOARD_URL] is None
        assert rec.exports[outputs.DASHBOARD_URL].startswith("https://eu-west-1.console.aws.amazon.com/cloudwatch/")


def test_grafana_settings_declare_the_dashboard_and_its_cloudwatch_data_source() -> None:
    rec = run(settings_for("dev", grafanaUrl=GRAFANA_URL, grafanaToken="glsa_example"))
    provider = rec.one("pulumi:providers:grafana")
    assert provider["url"] == GRAFANA_URL, provider.urn
    assert "auth" in provider.secret_inputs, f"{provider.urn}: the token must be a secret"
    source = rec.one("grafana:oss/dataSource:DataSource")
    dashboard = rec.one("grafana:oss/dashboard:Dashboard")
    for resource in (source, dashboard):
        assert resource.provider.startswith(provider.urn), resource.urn
    assert source["type"] == "cloudwatch"
    assert json.loads(source["jsonDataEncoded"]) == {"authType": "default", "defaultRegion": "eu-west-1"}
    assert "secureJsonDataEncoded" not in source.inputs, "no AWS keys are stored in Grafana"
    document = json.loads(dashboard["configJson"])
    assert document == grafana_dashboard(rec), "Grafana gets the dashboard the panels render"
    assert {t["datasource"]["uid"] for p in document["panels"] for t in p["targets"]} == {source["uid"]}
    assert dashboard["overwrite"] is True
    assert rec.exports[outputs.GRAFANA_DASHBOARD_URL] == f"{GRAFANA_URL}/d/{document['uid']}"


@pytest.mark.parametrize(
    ("given", "key", "allowed"),
    [
        ({"grafanaUrl": GRAFANA_URL}, "groundwork:grafanaToken", "a secure value when grafanaUrl is set"),
        ({"grafanaToken": {"secure": "v1:abc"}}, "groundwork:grafanaToken", "unset without grafanaUrl"),
        ({"grafanaUrl": "http://grafana.example.com"}, "groundwork:grafanaUrl", "an https:// address"),
    ],
)
def test_grafana_settings_come_together_and_safely(tmp_path: pathlib.Path, given: dict, key: str, allowed: str) -> None:
    region, values = config_values("dev")
    config = {"aws:region": region, **{f"groundwork:{k}": v for k, v in {**values, **given}.items()}}
    (tmp_path / "Pulumi.test.yaml").write_text(yaml.safe_dump({"config": config}))
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", tmp_path)
    assert caught.value.key == key
    assert allowed in caught.value.allowed


@pytest.mark.parametrize("token", ["glsa_in_clear_" + "x" * 20, "[secret]"])
def test_a_token_in_clear_in_the_stack_file_is_refused_without_showing_it(tmp_path: pathlib.Path, token: str) -> None:
    """Even the text that stands for a redacted secure value: only a `secure:` value is one."""
    region, values = config_values("dev")
    config = {"aws:region": region, **{f"groundwork:{k}": v for k, v in values.items()}}
    config.update({"groundwork:grafanaUrl": GRAFANA_URL, "groundwork:grafanaToken": token})
    (tmp_path / "Pulumi.test.yaml").write_text(yaml.safe_dump({"config": config}))
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", tmp_path)
    assert caught.value.key == "groundwork:grafanaToken"
    assert "a secure value" in caught.value.allowed
    assert token not in str(caught.value)
