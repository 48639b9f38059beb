"""Generated documents checked structurally: ECS container definitions against botocore, IAM policies."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest

from infra.release_gate import VPC_DESCRIBE_ACTIONS
from infra.service import task_policy
from infra.task import container_definitions, execution_policy
from tests.mocks import Recording, recorded

SECRETISH = ("PASSWORD", "SECRET", "TOKEN", "PRIVATE_KEY", "DATABASE_URL", "CREDENTIAL", "API_KEY")


@pytest.fixture(scope="module")
def container_shape() -> Any:
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape.members["containerDefinitions"]
    return shape.member


def conform(value: Any, shape: Any, path: str = "$") -> list[str]:
    """Differences between a JSON value and a botocore shape: unknown keys, wrong types, missing members."""
    errors: list[str] = []
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object for {shape.name}"]
        for key, item in value.items():
            if key not in shape.members:
                errors.append(f"{path}.{key}: not a member of {shape.name}")
                continue
            errors += conform(item, shape.members[key], f"{path}.{key}")
        for required in shape.required_members:
            if required not in value:
                errors.append(f"{path}: missing required {required}")
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        for index, item in enumerate(value):
            errors += conform(item, shape.member, f"{path}[{index}]")
    elif kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        for key, item in value.items():
            errors += conform(key, shape.key, f"{path}<key>")
            errors += conform(item, shape.value, f"{path}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            errors.append(f"{path}: expected a string, got {value!r}")
        elif shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} not in {shape.enum}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{path}: expected an integer, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected a boolean, got {value!r}")
    else:
        errors.append(f"{path}: unchecked shape type {kind}")
    return errors


def test_conform_catches_unknown_keys_and_wrong_types(container_shape: Any) -> None:
    bad = {"name": "x", "image": "y", "privilege": True, "memory": "512", "essential": "yes"}
    errors = conform(bad, container_shape)
    assert any("privilege: not a member" in e for e in errors)
    assert any("memory: expected an integer" in e for e in errors)
    assert any("essential: expected a boolean" in e for e in errors)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_container_definitions_match_register_task_definition(stack: str, container_shape: Any) -> None:
    rec = recorded(stack)
    task = rec.one("aws:ecs/taskDefinition:TaskDefinition", "-api-task")
    definitions = json.loads(task["containerDefinitions"])
    assert isinstance(definitions, list)
    assert definitions
    for definition in definitions:
        assert conform(definition, container_shape) == [], task.urn
        assert definition.get("privileged") is not True
        assert "logConfiguration" in definition


def test_container_definitions_refuse_secret_names_in_environment() -> None:
    with pytest.raises(ValueError, match="environment='JWT_SECRET'"):
        container_definitions(
            image="i",
            log_group="g",
            region="eu-west-1",
            environment={"JWT_SECRET": "x"},
            database_url="postgresql://app@proxy:5432/app",
            secrets={},
            port=8000,
            health_check_path="/livez",
            user="10001:10001",
            name="api",
        )


def policies(rec: Recording) -> list[tuple[str, dict]]:
    """Every IAM document the program declares, with the URN it belongs to."""
    found = []
    for token, key in (
        ("aws:iam/rolePolicy:RolePolicy", "policy"),
        ("aws:iam/role:Role", "assumeRolePolicy"),
        ("aws:s3/bucketPolicy:BucketPolicy", "policy"),
        ("aws:kms/key:Key", "policy"),
    ):
        for r in rec.of_type(token):
            found.append((r.urn, json.loads(r[key])))
    return found


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _bound_without_resources(statement: dict, actions: list) -> bool:
    """Actions with no resource-level permissions: `*` is the only resource, bound by a condition where one exists."""
    if actions == ["ecr:GetAuthorizationToken"]:
        return True
    if set(actions) <= set(VPC_DESCRIBE_ACTIONS):
        return True  # reads with no resource-level permissions and no VPC condition key
    if sorted(actions) == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]:
        return True
    condition = statement.get("Condition", {}).get("StringEquals", {})
    return actions == ["cloudwatch:PutMetricData"] and "cloudwatch:namespace" in condition


def policy_problems(document: dict, *, strict: bool, key_policy: bool = False) -> list[str]:
    """Wildcard actions on wildcard resources, service-wide actions (strict), Allow to everyone.

    In a KMS key policy the resource `*` means the key itself, so only the actions are checked there.
    """
    problems = []
    if document.get("Version") != "2012-10-17":
        problems.append("Version is not 2012-10-17")
    for statement in as_list(document["Statement"]):
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement.get("Action", []))
        resources = as_list(statement.get("Resource", []))
        if any(a in ("*", "*:*") for a in actions) and "*" in resources:
            problems.append(f"wildcard action on wildcard resource: {statement}")
        if any(a in ("*", "*:*") for a in actions):
            problems.append(f"wildcard action: {statement}")
        if strict and any(a.endswith(":*") for a in actions):
            problems.append(f"service-wide action: {statement}")
        if statement.get("Principal") in ("*", {"AWS": "*"}):
            problems.append(f"allow to everyone: {statement}")
        if "*" in resources and not key_policy and not _bound_without_resources(statement, actions):
            problems.append(f"wildcard resource: {statement}")
    return problems


def test_policy_checker_catches_the_classic_mistakes() -> None:
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    assert any("wildcard action on wildcard resource" in p for p in policy_problems(admin, strict=False))
    s3_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:x"}]}
    assert policy_problems(s3_all, strict=True)
    assert not policy_problems(s3_all, strict=False)
    public = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:x"}],
    }
    assert policy_problems(public, strict=False)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_iam_documents_are_valid_and_least_privilege(stack: str) -> None:
    rec = recorded(stack, (("databaseObjects", True), ("bastion", True)))
    found = policies(rec)
    assert len(found) >= 8
    for urn, document in found:
        assert policy_problems(document, strict=True, key_policy="aws:kms/key:Key" in urn) == [], urn


def test_roles_trust_only_the_service_that_uses_them() -> None:
    rec = recorded("prod", (("bastion", True),))
    trusted = {}
    for role in rec.of_type("aws:iam/role:Role"):
        (statement,) = json.loads(role["assumeRolePolicy"])["Statement"]
        assert statement["Action"] == "sts:AssumeRole", role.urn
        assert set(statement["Principal"]) == {"Service"}, role.urn
        trusted[role.name.removeprefix("gw-prod-")] = statement["Principal"]["Service"]
    assert trusted == {
        "db-monitoring-role": "monitoring.rds.amazonaws.com",
        "pool-role": "rds.amazonaws.com",
        "api-execution-role": "ecs-tasks.amazonaws.com",
        "api-task-role": "ecs-tasks.amazonaws.com",
        "bastion-role": "ec2.amazonaws.com",
        "worker-execution-role": "ecs-tasks.amazonaws.com",
        "worker-task-role": "ecs-tasks.amazonaws.com",
        "jobs-role": "scheduler.amazonaws.com",
        "backup-role": "backup.amazonaws.com",
        "release-check-role": "lambda.amazonaws.com",
        "release-hook-role": "ecs.amazonaws.com",
        "release-lb-role": "ecs.amazonaws.com",
    }


def test_roles_do_not_mix_inline_and_attached_policies() -> None:
    rec = recorded("prod", (("bastion", True),))
    inline = {r["role"] for r in rec.of_type("aws:iam/rolePolicy:RolePolicy")}
    attached = {r["role"] for r in rec.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert inline
    assert attached
    assert not inline & attached
    for attachment in rec.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        assert "AdministratorAccess" not in attachment["policyArn"], attachment.urn


def test_execution_and_task_policies_name_only_their_resources() -> None:
    document = json.loads(
        execution_policy(
            repository_arn="arn:aws:ecr:eu-west-1:1:repository/r",
            log_group_arn="arn:aws:logs:eu-west-1:1:log-group:/g",
            secret_arns=["arn:s2", "arn:s1"],
        )
    )
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert statements["ReadSecrets"]["Resource"] == ["arn:s1", "arn:s2"]
    assert statements["WriteLogs"]["Resource"] == "arn:aws:logs:eu-west-1:1:log-group:/g:*"
    assert policy_problems(document, strict=True) == []
    connect = "arn:aws:rds-db:eu-west-1:1:dbuser:prx-1/app"
    key = "arn:aws:kms:eu-west-1:1:key/k"
    task = json.loads(
        task_policy(bucket_arn="arn:aws:s3:::b", database_connect_arn=connect, bucket_key_arn=key, region="eu-west-1")
    )
    # Objects only under the users' prefix; listing only of that prefix; the bucket's key only through S3.
    assert {s["Resource"] for s in task["Statement"]} == {"arn:aws:s3:::b", "arn:aws:s3:::b/users/*", connect, key}
    assert {s["Action"] for s in task["Statement"] if s["Resource"] == connect} == {"rds-db:connect"}
    (listing,) = [s for s in task["Statement"] if s["Resource"] == "arn:aws:s3:::b"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["users/*"]}}
    (use_key,) = [s for s in task["Statement"] if s["Resource"] == key]
    assert use_key["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    assert policy_problems(task, strict=True) == []
