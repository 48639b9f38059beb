"""Control 56: the plan's monthly estimate stays within the stack's `costBudgetMonthlyUsd`."""

from __future__ import annotations

from collections.abc import Iterator

from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView


@control("56", "Monthly estimate within the stack's budget", sources=("costBudgetMonthlyUsd",), level="P")
def cost_budget(view: PlanView) -> Iterator[Violation]:
    # The cost feature prices the plan from the kept price cache: no network, same answer on every machine.
    from cli.cost.budget import default_tables, over_budget

    problem = over_budget(view.plan, default_tables())
    if problem is not None:
        yield Violation("", problem)
