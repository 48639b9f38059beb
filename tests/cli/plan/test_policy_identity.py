"""Controls 57-59 pass on the identity component as declared and catch each weakened argument of a raw pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi_aws as aws
import pytest

from cli.plan.document import plan_document
from cli.plan.policy.evaluate import evaluate
from cli.plan.policy.loader import load_controls
from cli.plan.recorder import run
from infra.identity import Identity, IdentityArgs
from stacks.settings import PROJECT_DIR
from tests.mocks import settings_for


def _plan(declare: Callable[[], None], stack: str = "prod") -> dict[str, Any]:
    def program(_: Any) -> dict:
        declare()
        return {}

    return plan_document(run(settings_for(stack), program), PROJECT_DIR)


def _findings(plan: dict[str, Any], control_id: str) -> list:
    controls = [c for c in load_controls() if c.id == control_id]
    return evaluate(plan, controls).results[0].findings


def _identity(**kw: Any) -> None:
    Identity("gw-prod-id", IdentityArgs(region="eu-west-1", domain_prefix="gw-prod", **kw))


POOL = dict(
    password_policy={
        "minimum_length": 12,
        "require_lowercase": True,
        "require_uppercase": True,
        "require_numbers": True,
        "require_symbols": True,
    },
    auto_verified_attributes=["email"],
    user_attribute_update_settings={"attributes_require_verification_before_updates": ["email"]},
    deletion_protection="ACTIVE",
)
CLIENT = dict(
    user_pool_id="eu-west-1_raw",
    explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    prevent_user_existence_errors="ENABLED",
    enable_token_revocation=True,
    access_token_validity=15,
    token_validity_units={"access_token": "minutes"},
)


def _raw_pool(**kw: Any) -> None:
    aws.cognito.UserPool("raw", **{**POOL, **kw})


def _raw_client(**kw: Any) -> None:
    aws.cognito.UserPoolClient("raw", **{**CLIENT, **kw})


@pytest.mark.parametrize("control_id", ["57", "58", "59"])
def test_the_identity_component_passes(control_id: str) -> None:
    assert _findings(_plan(_identity), control_id) == []


@pytest.mark.parametrize(
    ("control_id", "declare", "message"),
    [
        ("57", lambda: _raw_pool(password_policy=None), "no password policy"),
        ("57", lambda: _raw_pool(password_policy={**POOL["password_policy"], "minimum_length": 6}), "at least 8"),
        ("57", lambda: _raw_pool(password_policy={"minimum_length": 12}), "requireLowercase"),
        ("57", lambda: _raw_pool(auto_verified_attributes=None), "not verified"),
        ("57", lambda: _raw_pool(user_attribute_update_settings=None), "before it is verified"),
        ("58", lambda: _raw_client(prevent_user_existence_errors="LEGACY"), "preventUserExistenceErrors"),
        ("58", lambda: _raw_client(enable_token_revocation=False), "revoked"),
        ("58", lambda: _raw_client(explicit_auth_flows=["ALLOW_USER_PASSWORD_AUTH"]), "sends the password"),
        (
            "58",
            lambda: _raw_client(allowed_oauth_flows_user_pool_client=True, allowed_oauth_flows=["implicit"]),
            "implicit grant",
        ),
        ("58", lambda: _raw_client(access_token_validity=2, token_validity_units={"access_token": "hours"}), "120"),
        ("59", lambda: _raw_pool(deletion_protection="INACTIVE"), "deletionProtection"),
    ],
)
def test_each_weakened_argument_is_caught(control_id: str, declare: Callable[[], None], message: str) -> None:
    baseline = _raw_client if control_id == "58" else _raw_pool
    assert [f.message for f in _findings(_plan(baseline), control_id) if "not protected" not in f.message] == []
    findings = _findings(_plan(declare), control_id)
    assert any(message in f.message for f in findings), findings
    assert all(f.severity == "error" for f in findings)


def test_an_unprotected_pool_and_long_tokens_only_warn_outside_prod() -> None:
    dev = _plan(lambda: _identity(protect=False, access_token_minutes=120, refresh_token_days=7), stack="dev")
    pool = _findings(dev, "59")
    assert {f.severity for f in pool} == {"warning"}
    assert any("deletionProtection" in f.message for f in pool)
    tokens = _findings(dev, "58")
    assert [(f.severity, "120 minutes" in f.message) for f in tokens] == [("warning", True), ("warning", True)]
