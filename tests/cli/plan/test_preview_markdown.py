"""The live preview's pull-request section, from `infra preview --json` documents."""

from __future__ import annotations

import json

from cli.plan.preview_markdown import MAX_ROWS, main, summary

OK = {
    "ok": True,
    "counts": {"create": 1, "update": 1, "replace": 0, "delete": 0, "same": 40},
    "changes": [
        {"name": "gw-dev-db", "type": "aws:rds/instance:Instance", "op": "update", "diffs": ["multiAz"],
         "holds_data": "database"},
        {"name": "bad|name`x", "type": "aws:s3/bucket:Bucket", "op": "create"},
    ],
    "policy": {
        "skipped": False,
        "ok": True,
        "violations": [
            {"control": "3", "title": "Database is Multi-AZ", "enforcement": "advisory",
             "urn": "urn:pulumi:dev::groundwork::aws:rds/instance:Instance::gw-dev-db",
             "message": "multiAz is false\nfix: make it hold"},
        ],
    },
}  # fmt: skip


def test_a_passing_preview_lists_changes_and_the_verdict() -> None:
    text = summary(OK, "dev")
    assert "### groundwork `dev`: live preview" in text
    assert "1 to create, 1 to update; 40 unchanged." in text
    assert "| update | gw-dev-db (holds data: database) | aws:rds/instance:Instance | multiAz |" in text
    assert "bad\\|name'x" in text
    assert "Policy pack: ✅ passes (0 mandatory, 1 advisory)." in text
    assert "| 3 Database is Multi-AZ | advisory | gw-dev-db | multiAz is false |" in text
    assert "fix:" not in text


def test_a_blocked_preview_says_why_and_what_next() -> None:
    blocked = {
        "ok": False,
        "error": {"kind": "PolicyViolation", "message": "the policy pack stopped 'dev'", "hint": "encrypt it"},
        "policy": {"skipped": False, "violations": [{"control": "1", "enforcement": "mandatory", "urn": ""}]},
    }
    text = summary(blocked, "dev")
    assert "❌ the policy pack stopped 'dev'" in text
    assert "Next: encrypt it" in text
    assert "Policy pack: ❌ fails (1 mandatory, 0 advisory)." in text
    assert "| the stack |" in text


def test_long_change_lists_are_cut_and_counted() -> None:
    many = dict(OK, changes=[{"name": f"r{i}", "type": "t", "op": "create"} for i in range(MAX_ROWS + 7)])
    assert "… and 7 more" in summary(many, "dev")


def test_a_missing_or_broken_document_still_gives_a_section(tmp_path, capsys) -> None:
    broken = tmp_path / "preview.json"
    broken.write_text("{not json")
    assert main([str(broken), "dev"]) == 0
    assert "The preview produced no result" in capsys.readouterr().out
    assert main([str(tmp_path / "absent.json"), "dev"]) == 0
    assert "The preview produced no result" in capsys.readouterr().out
    broken.write_text(json.dumps([1, 2]))
    assert main([str(broken), "dev"]) == 0
    assert "The preview produced no result" in capsys.readouterr().out
    assert main([]) == 2
