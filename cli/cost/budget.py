"""The budget check: a plan's estimate against its `costBudgetMonthlyUsd`, naming the biggest items."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from cli.cost.estimate import Estimate, TableFor, dollars, estimate
from cli.cost.table import PriceCacheError


def over_budget(plan: dict[str, Any], tables: TableFor) -> str | None:
    """Why the plan breaks its budget (over it, or not priceable), or None when it has none or stays within it."""
    budget = plan.get("cost_budget_monthly_usd")
    if budget is None:
        return None
    try:
        result = estimate(plan, tables)
    except PriceCacheError as error:
        return f"the budget of {dollars(Decimal(budget))}/month cannot be checked: {error.message}"
    if result.total <= Decimal(budget):
        return None
    return (
        f"estimated {dollars(result.total)}/month is over the budget of {dollars(Decimal(budget))}/month "
        f"(costBudgetMonthlyUsd){' and partial' if result.partial else ''}; biggest: {biggest_items(result)}"
    )


def biggest_items(result: Estimate, count: int = 3) -> str:
    return ", ".join(f"{r.name} {dollars(r.monthly)}" for r in result.biggest(count))


def default_tables() -> TableFor:
    """The prices a policy run uses: the kept cache only (no network, no machine-local state)."""
    from cli.cost.sources import offline_tables

    return offline_tables(None, datetime.datetime.now(datetime.UTC).date())
