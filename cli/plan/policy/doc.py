"""The control table and the current results in docs/plan-and-policy.md, generated from the controls themselves.

`python -m cli.plan.policy.doc` rewrites the generated regions; `--check` exits 1 when they are stale.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

from cli.plan.policy.loader import load_controls
from cli.plan.policy.model import Control

PROJECT_DIR = pathlib.Path(__file__).resolve().parents[3]
DOC = PROJECT_DIR / "docs" / "plan-and-policy.md"
RESULT_STACKS = ("dev", "prod")
"""The committed stacks whose results the document states."""
_REGION = re.compile(r"(<!-- generated: (?P<name>[^>]+?) -->\n).*?(<!-- end generated -->)", re.DOTALL)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def controls_table(controls: list[Control]) -> str:
    """One row per control: id, function (module), title, sources, level."""
    rows = ["| id | function (module) | control | sources | level |", "| --- | --- | --- | --- | --- |"]
    for c in controls:
        module = c.module.rsplit(".", 1)[-1]
        sources = _cell(", ".join(c.sources))
        rows.append(f"| {c.id} | `{c.check.__name__}` ({module}) | {_cell(c.title)} | {sources} | {c.level} |")
    return "\n".join(rows) + "\n"


def results_text(project_dir: pathlib.Path = PROJECT_DIR) -> str:
    """What `infra policy` reports for each committed stack: counts, and the controls that warn or advise."""
    from cli.plan.build import plan_stack
    from cli.plan.policy.evaluate import evaluate

    lines = []
    for stack in RESULT_STACKS:
        report = evaluate(plan_stack(stack, project_dir), load_controls())
        counts = report.counts()
        parts = [f"{counts['pass']} pass"]
        for status, word in (("error", "fail"), ("warning", "warn"), ("advisory", "advise")):
            ids = [r.control.id for r in report.results if r.status == status]
            if ids:
                parts.append(f"{len(ids)} {word} ({', '.join(ids)})")
        lines.append(f"- `infra policy --stack {stack}`: " + ", ".join(parts) + ".")
    return "\n".join(lines) + "\n"


def render(text: str, project_dir: pathlib.Path = PROJECT_DIR) -> str:
    """The document with every generated region rewritten."""
    controls = load_controls()
    makers = {"controls": lambda: controls_table(controls), "policy results": lambda: results_text(project_dir)}

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in makers:
            raise ValueError(f"{DOC.name}: unknown generated region {name!r}; known: {', '.join(makers)}")
        return match[1] + makers[name]() + match[3]

    return _REGION.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document is stale")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    wanted = render(current)
    if args.check:
        if current != wanted:
            print(f"{DOC} is stale: run python -m cli.plan.policy.doc", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
