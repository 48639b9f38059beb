"""`infra cost` on the committed stacks, `--refresh-prices` without credentials, and the budget in `infra policy`."""

from __future__ import annotations

from decimal import Decimal

import pytest


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_cost_of_prod_prices_what_the_kept_cache_knows_and_lists_the_rest(infra):
    document = infra.json("cost", "--stack", "prod")
    priced = {r["name"]: r for r in document["resources"]}
    assert Decimal(priced["gw-prod-net-nat-0"]["monthly_usd"]) == Decimal("35.04")
    assert document["partial"] is True
    assert Decimal(document["total_monthly_usd"]) == sum(Decimal(r["monthly_usd"]) for r in document["resources"])
    for resource in document["resources"]:
        for line in resource["lines"]:
            if line["monthly_usd"] is not None:
                assert line["unit_price"]["retrieved"]
                assert line["unit_price"].get("sku") or line["unit_price"]["source"].startswith("https://")
    unpriced = {r["name"]: r["unpriced_reason"] for r in document["unpriced"]}
    assert "no price for rds-postgresql/db.m7g.large" in unpriced["gw-prod-db-instance"]
    assert any(r["type"] == "aws:s3/bucket:Bucket" for r in document["usage_only"])
    assert document["free"]


def test_refresh_without_credentials_is_a_usage_error(infra):
    result = infra("cost", "--stack", "dev", "--refresh-prices", code=2)
    assert "--refresh-prices needs AWS credentials" in result.stderr


def test_a_bad_usage_file_names_the_key(infra, tmp_path):
    usage = tmp_path / "usage.toml"
    usage.write_text("nat_gateway_tb = 3\n")
    assert "not a usage key" in infra("cost", "--stack", "dev", "--usage", str(usage), code=2).stderr
    for value in ("-3", "inf", "nan", "1e308", "1_000_000_001"):
        usage.write_text(f"nat_gateway_gb = {value}\n")
        refused = infra("cost", "--stack", "dev", "--usage", str(usage), code=2).stderr
        assert "nat_gateway_gb" in refused, value
        assert "from 0 to 1,000,000,000" in refused, value


@pytest.mark.parametrize(
    ("usage", "problem"),
    [
        ("/dev/zero", "is larger than 65536 bytes"),
        (".", "cannot be read"),
        ("/nonexistent/usage.toml", "cannot be read"),
    ],
)
def test_a_usage_path_that_is_no_small_file_is_refused(infra, usage, problem):
    """A device or a pipe has no size to check first: the read itself stops at the limit."""
    refused = infra("cost", "--stack", "dev", "--usage", usage, code=2).stderr
    assert f"the usage file {usage} {problem}" in refused
    assert "internal error" not in refused


def test_an_over_budget_prod_fails_policy_naming_the_biggest_items(infra, tmp_path):
    from cli.plan.document import dumps
    from tests.cli.plan.programs import planned

    # The setting reaches the plan document, where the control reads it.
    over = planned("prod", overrides=(("costBudgetMonthlyUsd", "50"),))
    assert over["cost_budget_monthly_usd"] == 50
    saved = tmp_path / "plan-prod.json"
    saved.write_text(dumps(over))
    document = infra.json("policy", "--stack", "prod", "--plan", str(saved), code=1)
    budget = next(c for c in document["controls"] if c["id"] == "56")
    assert budget["status"] == "error"
    assert "over the budget of $50.00/month" in budget["findings"][0]["message"]
    assert "gw-prod-net-nat-0 $35.04" in budget["findings"][0]["message"]
    saved.write_text(dumps(planned("prod", overrides=(("costBudgetMonthlyUsd", "5000"),))))
    document = infra.json("policy", "--stack", "prod", "--plan", str(saved), code=0)
    assert next(c for c in document["controls"] if c["id"] == "56")["status"] == "pass"
