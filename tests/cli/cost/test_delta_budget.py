"""The monthly change between two plans, and the budget control on both sides of the line."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cli.cost.delta import cost_delta, plans_delta
from cli.cost.estimate import estimate
from cli.cost.render import delta_markdown
from cli.plan.markdown import summary
from cli.plan.policy.evaluate import evaluate
from cli.plan.policy.loader import load_controls
from tests.cli.cost.plans import nat, plan, resource, table

PRICES = table({"nat-gateway-hours": "0.045", "kms-key-months": "1", "secret-months": "0.40"})


def _tables(region):
    return PRICES


def test_three_added_nat_gateways_read_as_one_line_with_their_sum():
    base = plan(resource("aws:kms/key:Key", "key"))
    head = plan(resource("aws:kms/key:Key", "key"), nat("a"), nat("b"), nat("c"))
    delta = cost_delta(estimate(base, _tables), estimate(head, _tables))
    assert [k.text() for k in delta.kinds] == ["+$98.55/month: 3 NAT gateways (3 added)"]
    assert delta.change == Decimal("98.550")
    assert delta.before == 1
    assert delta.headline() == "Monthly estimate $1.00 → $99.55: +$98.55/month"


def test_removed_and_changed_resources_count_against_their_kind():
    base = plan(nat("a"), nat("b"), resource("aws:secretsmanager/secret:Secret", "s"))
    head = plan(nat("a"), resource("aws:secretsmanager/secret:Secret", "s"))
    delta, problem = plans_delta(base, head, _tables)
    assert problem == ""
    assert [k.text() for k in delta.kinds] == ["-$32.85/month: 1 NAT gateway (1 removed)"]
    assert delta.to_json()["change_monthly_usd"] == "-32.85"


def test_a_delta_over_a_partial_estimate_says_so_and_the_markdown_carries_it():
    base = plan(nat("a"))
    head = plan(nat("a"), resource("aws:rds/proxy:Proxy", "proxy"))
    delta, _ = plans_delta(base, head, _tables)
    assert delta.partial
    assert "partial" in delta.headline()
    assert delta.kinds == []
    lines = delta_markdown(*plans_delta(plan(), head, _tables))
    assert lines[0].startswith("**Cost:** Monthly estimate $0.00 → $32.85")
    assert "- +$32.85/month: 1 NAT gateway (1 added)" in lines
    assert delta_markdown(None, "the price table x is stale") == [
        "**Cost:** not estimated: the price table x is stale",
        "",
    ]


def test_the_pull_request_comment_shows_the_cost_next_to_the_diff():
    from cli.plan.diff import diff_plans

    base, head = plan(), plan(nat("a"))
    report = evaluate(head, [])
    text = summary(report, diff_plans(base, head), "origin/main", delta_markdown(*plans_delta(base, head, _tables)))
    assert "**Diff against origin/main:** 1 added" in text
    assert "- +$32.85/month: 1 NAT gateway (1 added)" in text


def _budget(plan_document):
    control = next(c for c in load_controls() if c.id == "56")
    return evaluate(plan_document, [control]).results[0]


@pytest.fixture
def kept_prices(monkeypatch):
    """The control prices from the kept cache; here, a known table instead."""
    monkeypatch.setattr("cli.cost.budget.default_tables", lambda: _tables)


def test_budget_above_the_estimate_passes_and_no_budget_is_never_checked(kept_prices):
    assert _budget(plan(nat("a"), nat("b"), stack="prod", budget=66)).status == "pass"
    assert _budget(plan(nat("a"), nat("b"), stack="prod", budget=None)).status == "pass"


def test_over_budget_fails_on_prod_warns_elsewhere_and_names_the_biggest_items(kept_prices):
    resources = (nat("a"), nat("b"), nat("c"), resource("aws:kms/key:Key", "key"))
    result = _budget(plan(*resources, stack="prod", budget=65))
    assert result.status == "error"
    message = result.findings[0].message
    assert "estimated $99.55/month is over the budget of $65.00/month" in message
    assert "biggest: a $32.85, b $32.85, c $32.85" in message
    assert _budget(plan(*resources, stack="dev", budget=65)).status == "warning"


def test_a_budget_that_cannot_be_checked_is_a_finding_not_a_pass(monkeypatch, tmp_path):
    from cli.cost.sources import offline_tables
    from tests.cli.cost.plans import TODAY

    (tmp_path / "eu-west-1.json").write_text("{broken")
    monkeypatch.setattr("cli.cost.budget.default_tables", lambda: offline_tables(None, TODAY, kept_dir=tmp_path))
    result = _budget(plan(nat("a"), stack="prod", budget=10))
    assert result.status == "error"
    assert "cannot be checked" in result.findings[0].message
