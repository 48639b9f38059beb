"""boto3 clients for a region, and how AWS errors are read: codes, credential failures, not-found."""

from __future__ import annotations

from typing import Any

from cli.core.aws_errors import credentials_error, error_code
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


def is_not_found(exc: Exception, *codes: str) -> bool:
    """Whether a ClientError is one of the given not-found codes."""
    return error_code(exc) in codes
