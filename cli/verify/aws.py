"""boto3 clients for a region, and how AWS errors are read: codes, credential failures, not-found."""

from __future__ import annotations

from typing import Any

from cli.core.aws_errors import CREDENTIALS_HINT
from cli.core.errors import CredentialsError
from cli.verify.context import ClientFactory


def client_factory(region: str) -> ClientFactory:
    """Clients of one boto3 session in `region`, created once per service, with bounded timeouts and retries."""
    import boto3.session
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.session.Session(region_name=region)
    except ProfileNotFound as exc:
        raise credentials_error(str(exc)) from exc
    config = Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 4, "mode": "standard"})
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            try:
                made[service] = session.client(service, config=config)
            except ProfileNotFound as exc:  # botocore may read the profile only now
                raise credentials_error(str(exc)) from exc
        return made[service]

    return client


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError (empty for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def error_message(exc: Exception) -> str:
    """The AWS error code and message, for a check's observed value."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    operation = getattr(exc, "operation_name", "") or "the call"
    text = f"AWS refused {operation}: {error.get('Code', type(exc).__name__)}"
    if error.get("Message"):
        text += f" ({error['Message']})"
    return text


def is_not_found(exc: Exception, *codes: str) -> bool:
    """Whether a ClientError is one of the given not-found codes."""
    return error_code(exc) in codes


def credentials_error(detail: str) -> CredentialsError:
    """The error that stops a run whose AWS credentials are missing or rejected (exit 2)."""
    return CredentialsError(f"AWS rejected or could not find credentials: {detail}", hint=CREDENTIALS_HINT)
