"""The local stack's plan cache: keyed by what the plan derives from, kept outside the stack, bounded."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from cli.local import planner
from tests.harness import copy_local_program, scratch_dir

SETTING = "groundwork:proxyBorrowTimeoutSeconds: 3"


@pytest.fixture
def project(monkeypatch):
    """A copy of the program, its settings and the app, with a cache of its own."""
    monkeypatch.delenv(planner.CACHE_DIR_ENV, raising=False)
    base = scratch_dir("groundwork-plan-cache-")
    tree = base / "project"
    copy_local_program(tree)
    yield tree
    shutil.rmtree(base, ignore_errors=True)


def test_a_plan_is_reused_until_a_setting_changes_and_again_when_it_is_back(project):
    settings = project / "Pulumi.local.yaml"
    assert SETTING in settings.read_text(), f"Pulumi.local.yaml no longer has {SETTING!r}; pick another setting"
    first = planner.local_spec(project)
    assert first.reused is False
    again = planner.local_spec(project)
    assert (again.reused, again.key, again.spec) == (True, first.key, first.spec)
    print(f"planned in {first.seconds:.2f} s, reused in {again.seconds:.3f} s")

    original = settings.read_text()
    settings.write_text(original.replace(SETTING, "groundwork:proxyBorrowTimeoutSeconds: 4"))
    changed = planner.local_spec(project)
    assert changed.reused is False, "a changed setting must be planned again"
    assert changed.key != first.key
    assert changed.spec["pooler"]["borrow_timeout"] == 4
    settings.write_text(original)
    assert planner.local_spec(project).reused is True, "the earlier plan is still kept"


def test_the_cache_lives_beside_the_stack_so_destroy_keeps_it(project, monkeypatch):
    from cli.local.stack import LocalStack

    monkeypatch.delenv(planner.CACHE_DIR_ENV, raising=False)
    stack = LocalStack(project)
    stack.spec()
    assert stack.plan.reused is False
    entries = list((project / ".infra" / "cache" / "local-plans").glob("*.json"))
    assert len(entries) == 1
    assert not entries[0].is_relative_to(stack.root)
    assert (entries[0].stat().st_mode & 0o077) == 0, "the plan holds the program's declared secrets: owner-only"
    assert stack.destroy() == []
    fresh = LocalStack(project)
    fresh.spec()
    assert fresh.plan.reused is True


def test_an_app_edit_or_a_package_version_is_part_of_the_key(project):
    key = planner.source_digest(project)
    (project / "app_image" / "groundwork_api" / "added.py").write_text("VALUE = 1\n")
    assert planner.source_digest(project) != key, "the image tag is the app's content"
    assert any(name.lower().startswith("pulumi_aws-") for name in planner.package_versions())


def test_only_the_most_recently_used_plans_are_kept(tmp_path):
    plans = tmp_path / "local-plans"
    plans.mkdir()
    now = time.time()
    for age in range(8):
        entry = plans / f"{age}.json"
        entry.write_text("{}")
        os.utime(entry, (now - age * 60, now - age * 60))
    deleted = planner.prune(plans, 5)
    assert sorted(p.name for p in deleted) == ["5.json", "6.json", "7.json"]
    assert sorted(p.name for p in plans.glob("*.json")) == [f"{age}.json" for age in range(5)]
