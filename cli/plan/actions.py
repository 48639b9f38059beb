"""What the plan, diff and policy commands do, without Typer."""

from __future__ import annotations

import pathlib
from typing import Any

from cli.core.errors import ConfigError
from cli.plan.policy.evaluate import PolicyReport


def require_cloud_stack(stack: str) -> None:
    """The offline plan reads Pulumi.<stack>.yaml; the embedded local stack has none."""
    from cli.core.options import LOCAL_STACK

    if stack == LOCAL_STACK:
        raise ConfigError(
            "the local stack has no Pulumi program to plan",
            hint="pass a cloud stack: --stack dev or --stack prod",
        )


def plan_for_exit(stack: str, project_dir: pathlib.Path) -> dict[str, Any]:
    """The stack's plan in a command that exits soon after: the collector stops walking the provider modules."""
    import gc

    from cli.plan.build import plan_stack

    document = plan_stack(stack, project_dir)
    # Hundreds of thousands of long-lived type objects from the provider modules: every later collection,
    # and the interpreter's last one at exit, would walk them again for nothing (about half a second).
    gc.freeze()
    return document


def head_and_base(stack: str, project_dir: pathlib.Path, base: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The working tree's plan and the base plan; a ref's plan runs in its own process meanwhile."""
    from concurrent.futures import ThreadPoolExecutor

    from cli.plan.base import base_plan

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(base_plan, base, stack, project_dir)
        head = plan_for_exit(stack, project_dir)
        before, label = pending.result()
    return head, before, label


def check_policy(
    stack: str, project_dir: pathlib.Path, *, plan_file: pathlib.Path | None = None, base: str | None = None
) -> tuple[PolicyReport, str]:
    """The policy report of the stack's plan (or a saved one) and its markdown summary with the diff."""
    from cli.plan.base import base_plan, load_plan_file
    from cli.plan.diff import diff_plans
    from cli.plan.markdown import summary
    from cli.plan.policy.evaluate import evaluate
    from cli.plan.policy.loader import load_controls

    if plan_file is not None:
        head = load_plan_file(plan_file, stack)
        before, label = base_plan(base, stack, project_dir) if base is not None else (None, "")
    elif base is not None:
        head, before, label = head_and_base(stack, project_dir, base)
    else:
        head, before, label = plan_for_exit(stack, project_dir), None, ""
    report = evaluate(head, load_controls(project_dir))
    if before is None:
        return report, summary(report)
    from cli.cost.render import delta_markdown
    from cli.cost.sources import offline_delta

    cost_lines = delta_markdown(*offline_delta(before, head, project_dir))
    return report, summary(report, diff_plans(before, head), label, cost_lines)
