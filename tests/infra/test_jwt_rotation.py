"""The JWT key rotation Lambda against moto: the four steps, their guards, the service restart and quiet logs."""

from __future__ import annotations

import ast
import io
import json
import logging
import pathlib
import secrets
import sys
import traceback
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.lambdas import jwt_rotation

SECRET = "groundwork/jwt-keys"
TOKEN = "7d9c2a4e-5b1f-4c3a-9e8d-0f6a1b2c3d4e"
OTHER_TOKEN = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Moto in process, with the simple Lambda backend: it accepts invocations without running any code."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "SERVICE_CLUSTER", "SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield boto3.client("secretsmanager")


def new_keys() -> dict[str, str]:
    return {name: secrets.token_urlsafe(jwt_rotation.KEY_BYTES) for name in jwt_rotation.KEY_NAMES}


def rotation_function() -> str:
    """The module deployed as moto's rotation Lambda, zipped alone as index.py like the real one."""
    role = boto3.client("iam").create_role(RoleName="jwt-rotation", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.write(jwt_rotation.__file__, "index.py")
    return boto3.client("lambda").create_function(
        FunctionName="jwt-rotation",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]


def start_rotation(client: Any, token: str = TOKEN) -> None:
    """Enable rotation and open a rotation the way Secrets Manager does before it calls the function.

    `rotate_secret` with a RotationLambdaARN and RotationRules turns RotationEnabled on and stages `token` as an
    AWSPENDING version with no value yet, exactly the state the real service hands to createSecret. Moto's simple
    Lambda backend accepts the four invocations without running the code, so the tests then play the function's part
    by calling the handler with the same token. No Stubber is needed for Secrets Manager.
    """
    client.rotate_secret(
        SecretId=SECRET,
        ClientRequestToken=token,
        RotationLambdaARN=rotation_function(),
        RotationRules={"AutomaticallyAfterDays": 30},
    )


def secret_with(client: Any, text: str, rotating: bool = True) -> None:
    client.create_secret(Name=SECRET, SecretString=text)
    if rotating:
        start_rotation(client)


def run(step: str, token: str = TOKEN) -> None:
    jwt_rotation.handler({"SecretId": SECRET, "ClientRequestToken": token, "Step": step}, None)


def value(client: Any, **version: str) -> dict[str, str]:
    return json.loads(client.get_secret_value(SecretId=SECRET, **version)["SecretString"])


def stages(client: Any) -> dict[str, list[str]]:
    return client.describe_secret(SecretId=SECRET)["VersionIdsToStages"]


def stored_versions(client: Any) -> list[tuple[str, list[str], str | None]]:
    """Every version with its labels and value (None while it has none), to show that a failed step wrote nothing."""
    found = []
    for version, labels in sorted(stages(client).items()):
        try:
            text = client.get_secret_value(SecretId=SECRET, VersionId=version)["SecretString"]
        except client.exceptions.ResourceNotFoundException:
            text = None
        found.append((version, sorted(labels), text))
    return found


def full_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


def test_a_full_rotation_promotes_the_keys(aws: Any) -> None:
    old = new_keys()
    secret_with(aws, json.dumps(old))
    (old_version,) = [v for v, labels in stages(aws).items() if "AWSCURRENT" in labels]

    for step in STEPS:
        run(step)

    # Read by label: moto's stageless read follows its own default version, which update_secret_version_stage leaves.
    new = value(aws, VersionStage="AWSCURRENT")
    assert (new["previous"], new["current"]) == (old["current"], old["next"])
    assert new["next"] not in old.values()
    assert len(new["next"]) >= jwt_rotation.MIN_KEY_LENGTH
    assert stages(aws) == {old_version: ["AWSPREVIOUS"], TOKEN: ["AWSCURRENT"]}
    assert value(aws, VersionStage="AWSPREVIOUS") == old

    run("finishSecret")  # a retried step on a finished rotation is the template's "already AWSCURRENT": no change
    assert value(aws, VersionStage="AWSCURRENT") == new


def test_create_secret_twice_writes_one_version(aws: Any) -> None:
    secret_with(aws, json.dumps(new_keys()))
    run("createSecret")
    first = value(aws, VersionId=TOKEN, VersionStage="AWSPENDING")
    run("createSecret")
    assert value(aws, VersionId=TOKEN, VersionStage="AWSPENDING") == first
    assert len(aws.list_secret_version_ids(SecretId=SECRET)["Versions"]) == 2


def test_a_token_that_is_not_a_version_is_refused(aws: Any) -> None:
    secret_with(aws, json.dumps(new_keys()))
    before = stored_versions(aws)
    with pytest.raises(ValueError, match=f"{OTHER_TOKEN} has no stage for rotation of secret {SECRET}"):
        run("createSecret", OTHER_TOKEN)
    assert stored_versions(aws) == before


def test_a_version_that_is_not_pending_is_refused(aws: Any) -> None:
    secret_with(aws, json.dumps(new_keys()))
    aws.put_secret_value(SecretId=SECRET, ClientRequestToken=OTHER_TOKEN, SecretString="{}", VersionStages=["OLD"])
    before = stored_versions(aws)
    with pytest.raises(ValueError, match=f"{OTHER_TOKEN} is not set as AWSPENDING"):
        run("createSecret", OTHER_TOKEN)
    assert stored_versions(aws) == before


def test_a_secret_without_rotation_is_refused(aws: Any) -> None:
    secret_with(aws, json.dumps(new_keys()), rotating=False)
    aws.put_secret_value(SecretId=SECRET, ClientRequestToken=TOKEN, SecretString="{}", VersionStages=["AWSPENDING"])
    before = stored_versions(aws)
    with pytest.raises(ValueError, match=f"Secret {SECRET} is not enabled for rotation"):
        run("createSecret")
    assert stored_versions(aws) == before


def test_an_unknown_step_is_refused(aws: Any) -> None:
    with pytest.raises(ValueError, match="Unknown rotation step 'rotateSecret'"):
        run("rotateSecret")


MARK = "Zq9" + "x" * 70  # long enough to pass as a key, and easy to spot if it leaks


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"not json {MARK}", "is not JSON"),
        (json.dumps([MARK, MARK, MARK]), "is not a JSON object"),
        (json.dumps({"previous": MARK, "current": MARK + "c"}), "lacks next"),
        (json.dumps({"previous": MARK, "current": 42, "next": MARK + "n"}), "has a current key that is not a string"),
        (
            json.dumps({"previous": MARK[:63], "current": MARK, "next": MARK + "n"}),
            "has a previous key shorter than 64",
        ),
    ],
    ids=["not-json", "not-object", "missing", "not-string", "short"],
)
def test_a_malformed_current_value_is_refused_without_showing_it(
    aws: Any, caplog: pytest.LogCaptureFixture, text: str, problem: str
) -> None:
    caplog.set_level(logging.INFO)
    secret_with(aws, text)
    before = stored_versions(aws)
    with pytest.raises(ValueError, match=f"AWSCURRENT value of secret {SECRET} {problem}") as raised:
        run("createSecret")
    assert stored_versions(aws) == before
    assert MARK[:40] not in full_text(raised.value)
    assert MARK[:40] not in caplog.text


def test_a_pending_value_that_is_not_the_promotion_fails_the_test_step(aws: Any) -> None:
    secret_with(aws, json.dumps(new_keys()))
    aws.put_secret_value(
        SecretId=SECRET, ClientRequestToken=TOKEN, SecretString=json.dumps(new_keys()), VersionStages=["AWSPENDING"]
    )
    with pytest.raises(ValueError, match="is not the promotion of its AWSCURRENT value") as raised:
        run("testSecret")
    assert "previous" not in str(raised.value)


def test_the_steps_log_one_line_each_and_no_key(aws: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    old = new_keys()
    secret_with(aws, json.dumps(old))
    for step in STEPS:
        run(step)

    lines = [record.getMessage() for record in caplog.records if record.name == "jwt_rotation"]
    assert len(lines) == len(STEPS)
    for step, line in zip(STEPS, lines, strict=True):
        assert line.startswith(f"{step} for secret {SECRET}: ")
    for key in [*old.values(), value(aws, VersionStage="AWSCURRENT")["next"]]:
        assert key not in caplog.text


def service_deployment(cluster: str = "groundwork", service: str = "api") -> str:
    """A cluster and service in moto ECS; returns the id of the service's primary deployment."""
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    task = ecs.register_task_definition(
        family=service, containerDefinitions=[{"name": service, "image": "api:1", "memory": 512}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=task, desiredCount=1)
    return primary_deployment(cluster, service)


def primary_deployment(cluster: str = "groundwork", service: str = "api") -> str:
    """Moto models forceNewDeployment by giving the primary deployment a new id, so no Stubber is needed."""
    (found,) = boto3.client("ecs").describe_services(cluster=cluster, services=[service])["services"]
    return next(d["id"] for d in found["deployments"] if d["status"] == "PRIMARY")


def test_finish_forces_a_new_deployment_of_the_service(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    before = service_deployment()
    monkeypatch.setenv("SERVICE_CLUSTER", "groundwork")
    monkeypatch.setenv("SERVICE_NAME", "api")
    secret_with(aws, json.dumps(new_keys()))
    for step in STEPS[:3]:
        run(step)
    assert primary_deployment() == before
    run("finishSecret")
    assert primary_deployment() != before


def test_a_retried_finish_restarts_the_service_again(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A restart that failed after the keys moved is retried: finishSecret on the current version restarts anyway."""
    service_deployment()
    monkeypatch.setenv("SERVICE_CLUSTER", "groundwork")
    monkeypatch.setenv("SERVICE_NAME", "api")
    secret_with(aws, json.dumps(new_keys()))
    for step in STEPS:
        run(step)
    after_first = primary_deployment()
    current_before = value(aws, VersionStage="AWSCURRENT")
    run("finishSecret")
    assert primary_deployment() != after_first
    assert value(aws, VersionStage="AWSCURRENT") == current_before


def test_without_a_service_configured_nothing_is_restarted(aws: Any) -> None:
    before = service_deployment()
    secret_with(aws, json.dumps(new_keys()))
    for step in STEPS:
        run(step)
    assert primary_deployment() == before


def test_the_function_imports_only_the_standard_library_and_boto3() -> None:
    """It is zipped alone as index.py, so nothing from this repository (absolute or relative) can be imported."""
    tree = ast.parse(pathlib.Path(jwt_rotation.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0] if node.level == 0 and node.module else "<relative>")
    assert imported - set(sys.stdlib_module_names) == {"boto3"}
