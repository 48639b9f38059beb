"""Controls 60-61: parliament lints every IAM document of the plan; malformed or mismatched statements are errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi_aws as aws
import pytest

from cli.plan.document import plan_document
from cli.plan.policy.evaluate import evaluate
from cli.plan.policy.loader import load_controls
from cli.plan.recorder import run
from infra import assume_role_policy
from infra.task import execution_policy
from stacks.settings import PROJECT_DIR
from tests.cli.plan.programs import planned
from tests.mocks import settings_for


def _plan(declare: Callable[[], None]) -> dict[str, Any]:
    def program(_: Any) -> dict:
        declare()
        return {}

    return plan_document(run(settings_for("prod"), program), PROJECT_DIR)


def _result(plan: dict[str, Any], control_id: str, production: bool = True):
    controls = [c for c in load_controls() if c.id == control_id]
    return evaluate(plan, controls, production=production).results[0]


def _role_with(*statements: dict) -> Callable[[], None]:
    def declare() -> None:
        role = aws.iam.Role("r", assume_role_policy=assume_role_policy("ecs-tasks.amazonaws.com"))
        policy = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        aws.iam.RolePolicy("p", role=role.id, policy=policy)

    return declare


SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"


@pytest.mark.parametrize(
    ("statement", "issue"),
    [
        ({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": []}, "EMPTY_RESOURCE"),
        ({"Effect": "Allow", "Action": "secretsmanager:GetSecretValu", "Resource": SECRET}, "UNKNOWN_ACTION"),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket"}, "RESOURCE_MISMATCH"),
        ({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue"}, "MALFORMED"),
    ],
)
def test_a_malformed_or_mismatched_statement_is_an_error_everywhere(statement: dict, issue: str) -> None:
    plan = _plan(_role_with(statement))
    for production in (True, False):
        result = _result(plan, "60", production)
        assert result.status == "error", result.findings
        assert any(issue in f.message and "rolePolicy:RolePolicy" in f.urn for f in result.findings), result.findings


def test_a_well_formed_policy_and_its_trust_policy_pass() -> None:
    plan = _plan(_role_with({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": SECRET}))
    assert _result(plan, "60").status == "pass"
    assert _result(plan, "61").status == "pass"


def test_a_wildcard_resource_where_the_action_has_resources_is_reported_on_prod() -> None:
    plan = _plan(_role_with({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    assert _result(plan, "61").status == "error"
    assert _result(plan, "61", production=False).status == "warning"


def test_a_task_without_secrets_gets_no_secrets_statement() -> None:
    document = json.loads(
        execution_policy(repository_arn="arn:aws:ecr:r:1:repository/x", log_group_arn="l:*", secret_arns=[])
    )
    assert all(s["Sid"] != "ReadSecrets" for s in document["Statement"])
    assert all(s.get("Resource") != [] for s in document["Statement"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_committed_programs_lint_clean(stack: str) -> None:
    plan = planned(stack)
    for control_id in ("60", "61"):
        result = _result(plan, control_id, production=stack == "prod")
        assert result.status == "pass", result.findings
