"""Control numbers and counts in the README, the docs and the CHANGELOG are the ones `infra policy` prints."""

from __future__ import annotations

import re
from pathlib import Path

from cli.plan.policy import doc
from cli.plan.policy.loader import load_controls

ROOT = Path(__file__).resolve().parents[3]
TEXTS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
REFERENCE = re.compile(r"\b[Cc]ontrols? ((?:\d+(?:-\d+)?)(?:(?:, | and )\d+(?:-\d+)?)*)")
"""`control 55`, `controls 50-52`, `controls 3, 4 and 25`."""


def _ids(text: str) -> list[int]:
    found = []
    for part in re.split(r", | and ", text):
        low, _, high = part.partition("-")
        found += list(range(int(low), int(high or low) + 1))
    return found


def test_the_control_table_and_results_are_generated_from_the_code() -> None:
    committed = doc.DOC.read_text(encoding="utf-8")
    assert committed == doc.render(committed), "docs/plan-and-policy.md is stale: run python -m cli.plan.policy.doc"


def test_every_control_number_in_the_texts_is_a_control_the_cli_prints() -> None:
    known = {int(c.id) for c in load_controls()}
    unknown = [
        f"{path.name}:{number}: control {i}"
        for path in TEXTS
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for match in REFERENCE.finditer(line)
        for i in _ids(match[1])
        if i not in known
    ]
    assert unknown == []


def test_the_readme_counts_the_controls_that_run() -> None:
    counts = re.findall(r"# (\d+) controls", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert counts
    assert {int(n) for n in counts} == {len(load_controls())}


def test_a_stale_control_row_is_caught() -> None:
    table = doc.controls_table(load_controls())
    stale = table.replace("| 55 |", "| 50 |", 1)
    text = f"<!-- generated: controls -->\n{stale}<!-- end generated -->\n"
    assert "| 55 |" in doc.render(text)
    assert doc.render(text) != text
