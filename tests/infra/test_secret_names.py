"""The secret-name guard: names that hold a secret are refused in plain environment, names that mention one are not."""

from __future__ import annotations

import pytest

from infra.limits import holds_secret
from infra.task import container_definitions

HOLD = ["DB_PASSWORD", "API_KEY", "PRIVATE_KEY", "JWT_SECRET", "GITHUB_TOKEN", "AWS_CREDENTIALS", "DATABASE_URL"]
MENTION = ["CORS_ALLOW_CREDENTIALS", "TOKEN_TTL_SECONDS", "JWT_SECRET_ARN", "MONKEY_COUNT", "REQUIRE_TOKEN"]


@pytest.mark.parametrize("name", HOLD)
def test_names_that_hold_a_secret(name: str) -> None:
    assert holds_secret(name)
    assert holds_secret(name.lower())


@pytest.mark.parametrize("name", MENTION)
def test_names_that_only_mention_one(name: str) -> None:
    assert not holds_secret(name)


def _definitions(environment: dict[str, str]) -> list:
    return container_definitions(
        image="repo/app@sha256:" + "0" * 64,
        log_group="logs",
        region="eu-west-1",
        environment=environment,
        database_url="postgresql://app@db:5432/app",
        secrets={},
        port=8000,
        health_check_path="/livez",
        user="10001",
        name="api",
    )


def test_the_task_takes_a_cors_switch_and_refuses_a_password() -> None:
    (container,) = _definitions({"CORS_ALLOW_CREDENTIALS": "true"})
    assert {"name": "CORS_ALLOW_CREDENTIALS", "value": "true"} in container["environment"]
    with pytest.raises(ValueError, match="environment='DB_PASSWORD' is not allowed"):
        _definitions({"DB_PASSWORD": "hunter2"})


def test_policy_control_31_agrees_with_the_guard() -> None:
    from cli.plan.policy.controls.ecs import no_secret_environment
    from cli.plan.policy.view import PlanView

    def plan(name: str) -> dict:
        containers = [{"name": "api", "environment": [{"name": name, "value": "true"}]}]
        task = {
            "urn": "urn:task",
            "type": "aws:ecs/taskDefinition:TaskDefinition",
            "name": "task",
            "custom": True,
            "parent": "",
            "options": {},
            "inputs": {"containerDefinitions": containers},
        }
        return {"stack": "dev", "resources": [task]}

    assert list(no_secret_environment(PlanView(plan("CORS_ALLOW_CREDENTIALS")))) == []
    assert len(list(no_secret_environment(PlanView(plan("DB_PASSWORD"))))) == 1
