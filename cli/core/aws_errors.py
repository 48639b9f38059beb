"""AWS SDK failures no command expected, told as what the user can do about them instead of as internal errors."""

from __future__ import annotations

from cli.core.errors import CredentialsError, InfraError, OperationFailed

CREDENTIALS_HINT = (
    "sign in (aws sso login, or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
    "then check with `infra doctor`"
)
CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "InvalidAccessKeyId",
        "AuthFailure",
        "RequestExpired",
    }
)
"""Error codes that mean the credentials themselves are wrong, not a permission on one call."""
_SIGN_IN_FAILURES = frozenset(
    {
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "TokenRetrievalError",
        "UnauthorizedSSOTokenError",
        "SSOTokenLoadError",
        "ProfileNotFound",
    }
)
_UNREACHABLE = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
    }
)


def describe(error: BaseException) -> InfraError | None:
    """The error to show for a botocore exception (None for anything else); botocore is not imported for it."""
    if not type(error).__module__.startswith("botocore"):
        return None
    kind = type(error).__name__
    if kind in _SIGN_IN_FAILURES:
        return credentials_error(str(error))
    if kind in _UNREACHABLE:
        return OperationFailed(
            f"AWS could not be reached: {error}",
            hint="check the network (and any proxy) and the stack's aws:region, then run the command again",
        )
    code = error_code(error)
    if code:
        text = error_message(error)
        if code in CREDENTIAL_CODES:
            return credentials_error(text)
        if code.startswith("AccessDenied") or code == "UnauthorizedOperation":
            return CredentialsError(text, hint="use credentials whose IAM policy allows this call")
        return OperationFailed(text, hint="run the command again; if it persists, check the AWS service's status")
    return OperationFailed(f"the AWS SDK failed: {kind}: {error}", hint="run the command again")


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError (empty for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def error_message(exc: BaseException) -> str:
    """The AWS error code and message, for a check's observed value or an error."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    operation = getattr(exc, "operation_name", "") or "the call"
    text = f"AWS refused {operation}: {error.get('Code', type(exc).__name__)}"
    if error.get("Message"):
        text += f" ({error['Message']})"
    return text


def credentials_error(detail: str) -> CredentialsError:
    """The error that stops a run whose AWS credentials are missing or rejected (exit 2)."""
    return CredentialsError(f"AWS rejected or could not find credentials: {detail}", hint=CREDENTIALS_HINT)
