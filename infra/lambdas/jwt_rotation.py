"""Secrets Manager rotation of the JWT signing keys: next becomes current, current becomes previous, a new next."""

import json
import logging
import os
import secrets
from typing import Any

import boto3

logger = logging.getLogger("jwt_rotation")
logger.setLevel(logging.INFO)

KEY_NAMES = ("previous", "current", "next")
KEY_BYTES = 48
MIN_KEY_LENGTH = 64  # secrets.token_urlsafe(48): 48 random bytes are 64 URL-safe base64 characters


def handler(event: dict[str, str], context: object) -> None:
    """Run one step of the rotation; clients are made per call, in the region the environment gives boto3."""
    secret_id, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step not in STEPS:
        raise ValueError(f"Unknown rotation step {step!r} for secret {secret_id}")
    client = boto3.client("secretsmanager")
    if is_already_current(client, secret_id, token):
        outcome = f"version {token} is already AWSCURRENT"
        if step == "finishSecret":
            # A retry after a failed restart: the keys moved, the service may not have; a second restart is harmless.
            outcome += f"; {restart_service()}"
    else:
        outcome = STEPS[step](client, secret_id, token)
    logger.info("%s for secret %s: %s", step, secret_id, outcome)


def is_already_current(client: Any, secret_id: str, token: str) -> bool:
    """The template's checks: rotation is on and the token is the AWSPENDING version (or already AWSCURRENT)."""
    metadata = client.describe_secret(SecretId=secret_id)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"Secret {secret_id} is not enabled for rotation")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise ValueError(f"Version {token} has no stage for rotation of secret {secret_id}")
    if "AWSCURRENT" in stages[token]:
        return True
    if "AWSPENDING" not in stages[token]:
        raise ValueError(f"Version {token} is not set as AWSPENDING for rotation of secret {secret_id}")
    return False


def create_secret(client: Any, secret_id: str, token: str) -> str:
    current_text = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"]
    if has_pending_value(client, secret_id, token):
        return f"version {token} already has its AWSPENDING value"
    current = parse_keys(current_text, f"AWSCURRENT value of secret {secret_id}")
    client.put_secret_value(
        SecretId=secret_id,
        ClientRequestToken=token,
        SecretString=json.dumps(promoted(current)),
        VersionStages=["AWSPENDING"],
    )
    return f"put the promoted keys as AWSPENDING version {token}"


def set_secret(client: Any, secret_id: str, token: str) -> str:
    return "nothing to set, the keys live only in this secret"


def test_secret(client: Any, secret_id: str, token: str) -> str:
    current = read_keys(client, secret_id, VersionStage="AWSCURRENT")
    pending = read_keys(client, secret_id, VersionId=token, VersionStage="AWSPENDING")
    if len(set(pending.values())) != len(KEY_NAMES):
        raise ValueError(f"The AWSPENDING keys of secret {secret_id} are not distinct")
    if (pending["previous"], pending["current"]) != (current["current"], current["next"]):
        raise ValueError(f"The AWSPENDING value of secret {secret_id} is not the promotion of its AWSCURRENT value")
    return f"version {token} holds three distinct keys promoted from AWSCURRENT"


def finish_secret(client: Any, secret_id: str, token: str) -> str:
    stages = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    old = next(version for version, labels in stages.items() if "AWSCURRENT" in labels)
    client.update_secret_version_stage(
        SecretId=secret_id, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=old
    )
    client.update_secret_version_stage(SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=token)
    return f"moved AWSCURRENT from version {old} to {token}; {restart_service()}"


def restart_service() -> str:
    """ECS reads secrets only when a task starts, so running tasks are replaced to pick up the new keys."""
    cluster, service = os.environ.get("SERVICE_CLUSTER"), os.environ.get("SERVICE_NAME")
    if not (cluster and service):
        return "no service to restart (SERVICE_CLUSTER and SERVICE_NAME unset)"
    boto3.client("ecs").update_service(cluster=cluster, service=service, forceNewDeployment=True)
    return f"forced a new deployment of service {service} in cluster {cluster}"


def has_pending_value(client: Any, secret_id: str, token: str) -> bool:
    try:
        client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
    except client.exceptions.ResourceNotFoundException:
        return False
    return True


def read_keys(client: Any, secret_id: str, **version: str) -> dict[str, str]:
    text = client.get_secret_value(SecretId=secret_id, **version)["SecretString"]
    return parse_keys(text, f"{version['VersionStage']} value of secret {secret_id}")


def parse_keys(text: str, what: str) -> dict[str, str]:
    """The three keys of a secret value; errors name the problem, never a key."""
    try:
        keys = json.loads(text)
    except ValueError:
        raise ValueError(f"The {what} is not JSON") from None
    if not isinstance(keys, dict):
        raise ValueError(f"The {what} is not a JSON object")
    missing = [name for name in KEY_NAMES if name not in keys]
    if missing:
        raise ValueError(f"The {what} lacks {', '.join(missing)}")
    for name in KEY_NAMES:
        if not isinstance(keys[name], str):
            raise ValueError(f"The {what} has a {name} key that is not a string")
        if len(keys[name]) < MIN_KEY_LENGTH:
            raise ValueError(f"The {what} has a {name} key shorter than {MIN_KEY_LENGTH} characters")
    return {name: keys[name] for name in KEY_NAMES}


def promoted(keys: dict[str, str]) -> dict[str, str]:
    return {"previous": keys["current"], "current": keys["next"], "next": secrets.token_urlsafe(KEY_BYTES)}


STEPS = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}
