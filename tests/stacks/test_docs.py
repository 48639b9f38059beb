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


def test_settings_doc_is_generated_from_the_declarations() -> None:
    from stacks import settings_doc

    committed = settings_doc.DOC.read_text(encoding="utf-8")
    assert committed == settings_doc.render(committed), "docs/settings.md is stale: run python -m stacks.settings_doc"


def test_settings_doc_check_fails_on_a_stale_row(tmp_path, monkeypatch) -> None:
    from stacks import settings_doc

    stale = tmp_path / "settings.md"
    stale.write_text(settings_doc.DOC.read_text().replace("| 365 |", "| 366 |", 1))
    monkeypatch.setattr(settings_doc, "DOC", stale)
    assert settings_doc.main(["--check"]) == 1
    assert settings_doc.main([]) == 0
    assert settings_doc.main(["--check"]) == 0
