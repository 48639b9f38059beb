"""`infra diff` matches named list items by name and keeps the differing part of long values in view."""

from __future__ import annotations

import json
from typing import Any

from cli.plan.diff import diff_plans, shown_pair
from cli.plan.document import dumps
from cli.plan.markdown import summary
from cli.plan.policy.evaluate import evaluate
from cli.plan.policy.loader import load_controls
from cli.plan.values import flatten
from tests.cli.plan.programs import planned

TASK = "aws:ecs/taskDefinition:TaskDefinition"


def _head_with(edit) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dev plan and a copy whose API task definition's containers went through `edit`."""
    base = planned("dev")
    head = json.loads(dumps(base))
    (task,) = [r for r in head["resources"] if r["type"] == TASK and r["name"] == "gw-dev-api-task"]
    containers = json.loads(task["inputs"]["containerDefinitions"])
    edit(containers[0])
    task["inputs"]["containerDefinitions"] = json.dumps(containers)
    return base, head


def test_a_new_environment_variable_is_one_added_entry_not_renamed_positions() -> None:
    def add_flag(container: dict[str, Any]) -> None:
        container["environment"].append({"name": "NEWCOMER_FLAG", "value": "on"})
        container["environment"].sort(key=lambda e: e["name"])

    base, head = _head_with(add_flag)
    (changed,) = diff_plans(base, head).changed
    paths = {(p.path, p.before, p.after) for p in changed.changes}
    prefix = "inputs.containerDefinitions[name=api].environment[name=NEWCOMER_FLAG]"
    assert paths == {(f"{prefix}.name", None, "NEWCOMER_FLAG"), (f"{prefix}.value", None, "on")}


def test_a_changed_image_tag_shows_the_part_that_differs() -> None:
    old_tag, new_tag = "sha-" + "a" * 40, "sha-" + "b" * 40

    def tagged(tag: str):
        def edit(container: dict[str, Any]) -> None:
            container["image"] = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/gw-dev-api-repo:" + tag

        return edit

    _, base = _head_with(tagged(old_tag))
    _, head = _head_with(tagged(new_tag))
    result = diff_plans(base, head)
    (change,) = [p for c in result.changed for p in c.changes if p.path.endswith("[name=api].image")]
    before, after = change.shown(limit=60)
    assert len(before) <= 60
    assert len(after) <= 60
    assert "sha-aaaa" in before
    assert "sha-bbbb" in after
    assert before != after
    report = evaluate(head, load_controls())
    markdown = summary(report, result, "main")
    assert "[name=api].image" in markdown
    assert "sha-bbbb" in markdown


def test_long_values_are_cut_around_their_first_difference() -> None:
    prefix = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/groundwork-api:"
    before, after = shown_pair(prefix + "sha-1111111111", prefix + "sha-2222222222", 40)
    assert before.startswith("…")
    assert after.startswith("…")
    assert "sha-1111111111" in before
    assert "sha-2222222222" in after
    short = shown_pair("a", None, 40)
    assert short == ("a", "(absent)")


def test_named_items_are_addressed_by_name_and_other_lists_by_position() -> None:
    value = {
        "tags": [{"key": "team", "value": "api"}],
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"]}, {"Sid": "x", "Effect": "Deny"}],
        "rules": [{"name": "rate", "priority": 1}],
        "ports": [80, 443],
        "twins": [{"name": "a"}, {"name": "a"}],
    }
    paths = set(flatten(value, by_identity=True))
    assert "tags[key=team].value" in paths
    assert "rules[name=rate].priority" in paths
    assert "Statement[Allow s3:GetObject].Effect" in paths
    assert "ports[1]" in paths
    assert "twins[0].name" in paths  # names that repeat identify nothing
    assert set(flatten(value)) >= {"tags[0].value", "rules[0].priority"}
