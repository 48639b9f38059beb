"""docs/program.md states what each stack declares; the table must match what the program declares."""

from __future__ import annotations

import re

from stacks.settings import PROJECT_DIR
from tests.mocks import recorded


def documented_counts() -> dict[str, tuple[int, int]]:
    text = (PROJECT_DIR / "docs" / "program.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| (\d+) \| (\d+) \|$", text, flags=re.MULTILINE)
    return {token: (int(dev), int(prod)) for token, dev, prod in rows}


def test_documented_resource_counts_match_both_stacks() -> None:
    documented = documented_counts()
    dev, prod = recorded("dev").counts(), recorded("prod").counts()
    actual = {token: (dev.get(token, 0), prod.get(token, 0)) for token in set(dev) | set(prod)}
    assert documented == actual
