"""Controls 62-67: protected stacks encrypt secrets, log groups, Performance Insights, images and schedules with their
own keys, each usable only through its service; functions are traced. Errors on prod, warnings elsewhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from cli.plan.document import plan_document
from cli.plan.policy.evaluate import evaluate
from cli.plan.policy.loader import load_controls
from cli.plan.recorder import run
from infra import key_policy
from infra.keys import logs_key_use
from stacks.settings import PROJECT_DIR
from tests.cli.plan.programs import planned
from tests.mocks import settings_for

KEY_CONTROLS = ("62", "63", "64", "65", "66", "67")
ACCOUNT = "123456789012"


def _result(plan: dict[str, Any], control_id: str, production: bool = True):
    controls = [c for c in load_controls() if c.id == control_id]
    return evaluate(plan, controls, production=production).results[0]


def _plan(declare: Callable[[], None]) -> dict[str, Any]:
    def program(_: Any) -> dict:
        declare()
        return {}

    return plan_document(run(settings_for("prod"), program), PROJECT_DIR)


@pytest.mark.parametrize("control_id", KEY_CONTROLS)
def test_the_protected_prod_program_passes(control_id: str) -> None:
    result = _result(planned("prod"), control_id)
    assert result.status == "pass", result.findings


@pytest.mark.parametrize("control_id", ["62", "63", "64", "65", "66"])
def test_an_unprotected_stack_on_aws_managed_keys_is_an_error_on_prod_and_a_warning_elsewhere(control_id: str) -> None:
    plan = planned("prod", overrides=(("protect", False), ("dbDeletionProtection", False)))
    assert _result(plan, control_id).status == "error"
    assert _result(plan, control_id, production=False).status == "warning"


def test_every_log_group_of_prod_is_on_the_logs_key() -> None:
    plan = planned("prod")
    groups = [r for r in plan["resources"] if r["type"] == "aws:cloudwatch/logGroup:LogGroup"]
    names = {g["name"] for g in groups}
    assert "gw-prod-release-logs" in names, "the release check's group is among them"
    assert len(groups) == 8
    assert _result(plan, "63").status == "pass"


def _secret_with_key(statement: dict) -> Callable[[], None]:
    def declare() -> None:
        key = aws.kms.Key("k", policy=key_policy(ACCOUNT, [statement]))
        aws.secretsmanager.Secret("s", kms_key_id=key.arn)

    return declare


def test_a_key_any_principal_of_the_account_may_use_directly_is_refused() -> None:
    loose = {
        "Sid": "UseAnyWay",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
    }
    result = _result(_plan(_secret_with_key(loose)), "62")
    assert result.status == "error"
    assert "UseAnyWay" in result.findings[0].message


def test_a_key_used_through_another_service_is_refused() -> None:
    other = {
        "Sid": "UseThroughS3",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": ["kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
    }
    assert _result(_plan(_secret_with_key(other)), "62").status == "error"


def test_a_logs_key_without_the_encryption_context_condition_is_refused() -> None:
    def declare(with_context: bool) -> Callable[[], None]:
        def go() -> None:
            uses = logs_key_use(ACCOUNT, "eu-west-1")
            if not with_context:
                uses = [{k: v for k, v in s.items() if k != "Condition"} for s in uses]
            key = aws.kms.Key("k", policy=key_policy(ACCOUNT, uses))
            aws.cloudwatch.LogGroup("g", kms_key_id=key.arn)

        return go

    assert _result(_plan(declare(True)), "63").status == "pass"
    assert _result(_plan(declare(False)), "63").status == "error"


def test_a_function_without_tracing_is_reported() -> None:
    def declare() -> None:
        role = aws.iam.Role("r", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
        aws.lambda_.Function(
            "f",
            runtime="python3.12",
            handler="index.handler",
            role=role.arn,
            code=pulumi.AssetArchive({"index.py": pulumi.StringAsset("def handler(*_): pass")}),
        )

    result = _result(_plan(declare), "67")
    assert result.status == "error"
    assert "tracingConfig" in result.findings[0].message
