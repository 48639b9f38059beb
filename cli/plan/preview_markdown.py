"""A pull-request comment section from `infra preview --json`: the live changes and the policy pack's verdict."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

MAX_ROWS = 50
"""Changed resources listed in the comment; the rest are counted."""


def _cell(text: Any) -> str:
    """Text safe inside a markdown table cell (no pipes, no line breaks, no markup from resource names)."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("`", "'").replace("\n", " ").strip()


def _policy_lines(policy: dict[str, Any] | None) -> list[str]:
    if not policy:
        return ["Policy pack: no verdict (the preview stopped before the engine ran it)."]
    if policy.get("skipped"):
        return ["Policy pack: **skipped** (`--skip-policy`)."]
    violations = policy.get("violations") or []
    blocking = [v for v in violations if v.get("enforcement") == "mandatory"]
    head = "❌ fails" if blocking else "✅ passes"
    lines = [f"Policy pack: {head} ({len(blocking)} mandatory, {len(violations) - len(blocking)} advisory)."]
    if violations:
        lines += ["", "| control | enforcement | resource | finding |", "| --- | --- | --- | --- |"]
        for v in violations:
            resource = v.get("urn", "").rsplit("::", 1)[-1] or "the stack"
            finding = v.get("message", "").partition("\nfix: ")[0]
            lines.append(
                f"| {_cell(v.get('control'))} {_cell(v.get('title'))} | {_cell(v.get('enforcement'))} | "
                f"{_cell(resource)} | {_cell(finding)} |"
            )
    return lines


def summary(document: dict[str, Any] | None, stack: str) -> str:
    """Markdown for one live preview: counts, the changed resources, and the policy verdict; or why it failed."""
    lines = [f"### groundwork `{stack}`: live preview (`infra preview --stack {stack} --diff`)", ""]
    if document is None:
        lines.append("The preview produced no result; see the job log.")
        return "\n".join(lines) + "\n"
    if not document.get("ok"):
        error = document.get("error") or {}
        lines += [f"❌ {_cell(error.get('message', 'the preview failed'))}", ""]
        if error.get("hint"):
            lines += [f"Next: {_cell(error['hint'])}", ""]
        lines += _policy_lines(document.get("policy"))
        return "\n".join(lines) + "\n"
    counts = document.get("counts") or {}
    changed = ", ".join(f"{n} to {op}" for op, n in counts.items() if n and op != "same") or "no changes"
    lines += [f"{changed}; {counts.get('same', 0)} unchanged.", ""]
    changes = [c for c in document.get("changes") or [] if c.get("op") != "same"]
    if changes:
        lines += ["| operation | resource | type | changed properties |", "| --- | --- | --- | --- |"]
        for c in changes[:MAX_ROWS]:
            data = f" (holds data: {_cell(c['holds_data'])})" if c.get("holds_data") else ""
            diffs = ", ".join(c.get("diffs") or [])
            lines.append(
                f"| {_cell(c.get('op'))} | {_cell(c.get('name'))}{data} | {_cell(c.get('type'))} | {_cell(diffs)} |"
            )
        if len(changes) > MAX_ROWS:
            lines.append(f"\n… and {len(changes) - MAX_ROWS} more; see the job log.")
        lines.append("")
    lines += _policy_lines(document.get("policy"))
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """`python -m cli.plan.preview_markdown PREVIEW.json STACK`: the section on stdout."""
    if len(argv) != 2:
        print("usage: python -m cli.plan.preview_markdown PREVIEW.json STACK", file=sys.stderr)
        return 2
    path, stack = Path(argv[0]), argv[1]
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = None
    if document is not None and not isinstance(document, dict):
        document = None
    sys.stdout.write(summary(document, stack))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
