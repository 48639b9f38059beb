"""An AWS SDK failure no command expected is told as what to do about it (exit 2 for credentials, 1 otherwise),
never as an internal error."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, UnauthorizedSSOTokenError

from cli.core.aws_errors import describe
from cli.core.errors import CredentialsError, OperationFailed


def _client_error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "GetParameter")


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (NoCredentialsError(), CredentialsError, "AWS rejected or could not find credentials: Unable to locate"),
        (
            _client_error("ExpiredToken", "expired"),
            CredentialsError,
            "AWS refused GetParameter: ExpiredToken (expired)",
        ),
        (_client_error("AccessDeniedException"), CredentialsError, "AWS refused GetParameter: AccessDeniedException"),
        (EndpointConnectionError(endpoint_url="https://ssm.eu-west-1.amazonaws.com/"), OperationFailed, "could not be"),
        (_client_error("ThrottlingException"), OperationFailed, "AWS refused GetParameter: ThrottlingException"),
        (UnauthorizedSSOTokenError(), CredentialsError, "AWS rejected or could not find credentials"),
    ],
    ids=["no-credentials", "expired", "access-denied", "unreachable", "throttled", "sso-session-expired"],
)
def test_botocore_failures_become_errors_that_say_what_to_do(error, kind, text):
    told = describe(error)
    assert type(told) is kind
    assert told is not None
    assert text in told.message
    assert told.hint


def test_other_exceptions_are_left_alone():
    assert describe(ValueError("x")) is None


def test_releases_without_credentials_is_exit_2_with_the_fix(infra, project, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    refused = infra("releases", "--stack", "dev", code=2).stderr
    assert "AWS rejected or could not find credentials" in refused
    assert "aws sso login" in refused
    assert "internal error" not in refused
