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


def _shown(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def test_settings_doc_shows_the_values_of_both_stack_files() -> None:
    from stacks.settings import KEYS, load_stack_settings

    text = (PROJECT_DIR / "docs" / "settings.md").read_text()
    rows = {
        key: (dev.strip(), prod.strip())
        for key, dev, prod in re.findall(r"^\| `([a-z]+:[A-Za-z0-9]+)` \|.*\| ([^|]+) \| ([^|]+) \|$", text, re.M)
    }
    dev, prod = load_stack_settings("dev"), load_stack_settings("prod")
    assert rows["aws:region"] == (dev.region, prod.region)
    for spec in KEYS:
        key = f"groundwork:{spec.key}"
        expected = (_shown(getattr(dev, spec.attr)), _shown(getattr(prod, spec.attr)))
        assert rows[key] == expected, key
