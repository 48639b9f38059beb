"""`infra destroy`: the listing, data holders, protected stacks, confirmation, the final snapshot."""

from __future__ import annotations

import pytest

from cli.cloud.teardown import plan_from_state
from cli.core.confirm import confirm_destroy as confirm
from cli.core.errors import ConfirmationRefused
from tests.cli import events
from tests.cli.fakes import state

DEV_RESOURCES = [
    ("aws:ecs/service:Service", "main-service"),
    ("aws:s3/bucketV2:BucketV2", "main-app-bucket"),
    ("aws:rds/proxy:Proxy", "main-proxy"),
    ("aws:rds/instance:Instance", "main-db"),
    ("aws:ec2/vpc:Vpc", "main-vpc"),
]
PROD_UNPROTECTED = [("aws:ecs/service:Service", "main-service"), ("aws:rds/proxy:Proxy", "main-proxy")]


def _script(fake, stack, *, protect_data, resources, **state_kw):
    fake.script("export_state", result=state(stack, protect_data=protect_data, **state_kw))
    fake.script("destroy", events=events.teardown(stack, resources))


def test_dev_destroy_yes_lists_data_and_reports_the_snapshot(infra, fake):
    _script(fake, "dev", protect_data=False, resources=DEV_RESOURCES)
    result = infra("destroy", "--stack", "dev", "--yes", code=0)
    assert fake.called("destroy") == [{"exclude_protected": False}]
    listing = result.stderr.split("destroyed")[0]
    for name in ("main-db", "main-proxy", "main-app-bucket", "main-vpc", "main-service"):
        assert name in listing
    assert "holds data (database)" in listing
    assert "holds data (bucket)" in listing
    assert "holds data (connection proxy)" in listing
    assert "final snapshot: main-db-final (of main-db)" in result.stderr
    assert "destroyed 5 resource(s) in dev" in result.stderr


def test_dev_destroy_json(infra, fake):
    _script(fake, "dev", protect_data=False, resources=DEV_RESOURCES)
    doc = infra.json("destroy", "--stack", "dev", "--yes")
    assert doc["confirmed_by"] == "yes"
    assert sorted(doc["destroyed"]) == sorted(name for _, name in DEV_RESOURCES)
    assert doc["final_snapshots"] == [
        {"database": "main-db", "snapshot": "main-db-final", "note": "taken by RDS when the database is deleted"}
    ]
    assert {r["name"] for r in doc["plan"]["holds_data"]} == {"main-db", "main-proxy", "main-app-bucket"}
    assert doc["plan"]["kept_protected"] == []


def test_dev_destroy_without_yes_on_a_pipe_refuses(infra, fake):
    _script(fake, "dev", protect_data=False, resources=DEV_RESOURCES)
    result = infra("destroy", "--stack", "dev", code=2)
    assert "main-db" in result.stderr
    assert fake.called("destroy") == []


def test_dev_destroy_prompt_yes_and_no(infra, fake, terminal):
    _script(fake, "dev", protect_data=False, resources=DEV_RESOURCES)
    result = infra("destroy", "--stack", "dev", input="n\n", code=2)
    assert "nothing was destroyed" in result.stderr
    assert fake.called("destroy") == []
    infra("destroy", "--stack", "dev", input="y\n", code=0)
    assert len(fake.called("destroy")) == 1


def test_prod_yes_alone_is_refused(infra, fake, terminal):
    _script(fake, "prod", protect_data=True, resources=PROD_UNPROTECTED)
    doc = infra.json("destroy", "--stack", "prod", "--yes", code=2)
    assert doc["error"]["kind"] == "ConfirmationRefused"
    assert "--confirm-stack prod" in doc["error"]["hint"]
    assert fake.called("destroy") == []


def test_prod_on_a_pipe_without_confirm_stack_is_refused(infra, fake):
    _script(fake, "prod", protect_data=True, resources=PROD_UNPROTECTED)
    result = infra("destroy", "--stack", "prod", code=2)
    assert "stdin is not a terminal" in result.stderr
    assert fake.called("destroy") == []


def test_prod_confirm_stack_with_the_wrong_name_is_refused(infra, fake):
    _script(fake, "prod", protect_data=True, resources=PROD_UNPROTECTED)
    result = infra("destroy", "--stack", "prod", "--confirm-stack", "dev", code=2)
    assert "does not match" in result.stderr
    assert fake.called("destroy") == []


def test_prod_confirm_stack_destroys_all_but_protected_resources(infra, fake):
    _script(fake, "prod", protect_data=True, resources=PROD_UNPROTECTED)
    doc = infra.json("destroy", "--stack", "prod", "--confirm-stack", "prod")
    assert fake.called("destroy") == [{"exclude_protected": True}]
    assert doc["confirmed_by"] == "confirm-stack"
    assert {r["name"] for r in doc["plan"]["kept_protected"]} == {"main-db", "main-app-bucket"}
    assert sorted(doc["destroyed"]) == ["main-proxy", "main-service"]
    assert doc["final_snapshots"] == []
    assert doc["plan"]["final_snapshots"][0]["note"].startswith("protected")


def test_prod_prompt_needs_the_typed_name(infra, fake, terminal):
    _script(fake, "prod", protect_data=True, resources=PROD_UNPROTECTED)
    result = infra("destroy", "--stack", "prod", input="yes\n", code=2)
    assert "Type its name" in result.stderr
    assert "does not match" in result.stderr
    assert fake.called("destroy") == []
    result = infra("destroy", "--stack", "prod", input="prod\n", code=0)
    assert "protected: kept" in result.stderr
    assert len(fake.called("destroy")) == 1


def test_empty_state_has_nothing_to_destroy(infra, fake):
    fake.script("export_state", result={"resources": []})
    result = infra("destroy", "--stack", "prod", code=0)
    assert "nothing to destroy" in result.stderr
    assert fake.called("destroy") == []


def test_plan_skips_the_stack_providers_and_components():
    plan = plan_from_state("dev", state("dev", protect_data=False))
    assert [r.name for r in plan.resources] == [
        "main-vpc",
        "main-db",
        "main-proxy",
        "main-app-bucket",
        "main-service",
    ]


def test_plan_says_when_no_snapshot_will_be_kept():
    plan = plan_from_state("dev", state("dev", protect_data=False, snapshot=None, skip=True))
    assert plan.snapshots[0].snapshot is None
    assert "NOT kept" in plan.snapshots[0].note


def _ask_never(_text):
    raise AssertionError("must not prompt")


@pytest.mark.parametrize(
    ("protected", "yes", "confirm_stack", "interactive"),
    [
        (True, True, None, True),
        (True, True, None, False),
        (True, False, None, False),
        (True, False, "dev", True),
        (False, False, None, False),
        (False, True, "other", False),
    ],
)
def test_confirm_refuses_without_prompting(protected, yes, confirm_stack, interactive):
    with pytest.raises(ConfirmationRefused):
        confirm(
            "prod" if protected else "dev",
            protected,
            yes=yes,
            confirm_stack=confirm_stack,
            interactive=interactive,
            ask_name=_ask_never,
            ask_yes=_ask_never,
        )


def test_confirm_accepts_the_ways_it_should():
    common = {"ask_name": _ask_never, "ask_yes": _ask_never}
    assert confirm("prod", True, yes=False, confirm_stack="prod", interactive=False, **common) == "confirm-stack"
    assert confirm("dev", False, yes=True, confirm_stack=None, interactive=False, **common) == "yes"
    typed = confirm(
        "prod", True, yes=False, confirm_stack=None, interactive=True, ask_name=lambda _: " prod ", ask_yes=_ask_never
    )
    assert typed == "typed-name"
