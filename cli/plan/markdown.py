"""A pull-request comment: the diff and the policy results of one stack in GitHub-flavoured markdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cli.plan.diff import PlanDiff
    from cli.plan.policy.evaluate import PolicyReport

_ICON = {"pass": "✅", "error": "❌", "warning": "⚠️", "advisory": "ℹ️"}  # noqa: RUF001


def summary(
    report: PolicyReport, diff: PlanDiff | None = None, base_label: str = "", cost_lines: list[str] | None = None
) -> str:
    """Markdown with a headline, the diff (risks first) and its monthly cost change, and the controls that failed."""
    counts = report.counts()
    verdict = "passes" if report.ok else "fails"
    lines = [
        f"### groundwork `{report.stack}`: policy {verdict}",
        "",
        f"{counts['pass']} passed · {counts['error']} failed · {counts['warning']} warned · "
        f"{counts['advisory']} advisory",
        "",
    ]
    if diff is not None:
        lines += _diff_lines(diff, base_label)
    lines += cost_lines or []
    failing = [r for r in report.results if r.status != "pass"]
    if failing:
        lines += ["| control | level | status | finding |", "| --- | --- | --- | --- |"]
        for r in failing:
            for f in r.findings:
                where = f.urn.rsplit("::", 1)[-1] if f.urn else "(plan)"
                lines.append(
                    f"| {r.control.id} {_cell(r.control.title)} | {f.level} | {_ICON[f.severity]} {f.severity} "
                    f"| `{_cell(where)}`: {_cell(f.message)} |"
                )
        lines.append("")
    return "\n".join(lines)


def _diff_lines(diff: PlanDiff, base_label: str) -> list[str]:
    replaced = sum(1 for c in diff.changed if c.replaced_by)
    lines = [
        f"**Diff against {_cell(base_label)}:** {len(diff.added)} added · {len(diff.removed)} removed · "
        f"{len(diff.changed)} changed ({replaced} replaced)",
        "",
    ]
    for risk in diff.risks:
        lines.append(f"- 🟥 **{risk.kind}** `{_cell(risk.urn.rsplit('::', 1)[-1])}`: {_cell(risk.message)}")
    if diff.risks:
        lines.append("")
    if not diff.empty:
        lines += ["<details><summary>Changes</summary>", "", "```diff"]
        lines += [f"+ {r['urn']}" for r in diff.added]
        lines += [f"- {r['urn']}" for r in diff.removed]
        for c in diff.changed:
            lines.append(f"{'!' if c.replaced_by else '~'} {c.urn}")
            lines += [f"    {p.path}: {' -> '.join(p.shown(limit=120))}" for p in c.changes]
        lines += ["```", "", "</details>", ""]
    return lines


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
