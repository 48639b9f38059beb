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
        return CredentialsError(f"AWS rejected or could not find credentials: {error}", hint=CREDENTIALS_HINT)
    if kind in _UNREACHABLE:
        return OperationFailed(
            f"AWS could not be reached: {error}",
            hint="check the network (and any proxy) and the stack's aws:region, then run the command again",
        )
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", kind))
        message = str(response.get("Error", {}).get("Message", ""))
        operation = getattr(error, "operation_name", "") or "a call"
        text = f"AWS refused {operation}: {code}" + (f" ({message})" if message else "")
        if code in CREDENTIAL_CODES:
            return CredentialsError(f"AWS rejected or could not find credentials: {text}", hint=CREDENTIALS_HINT)
        if code.startswith("AccessDenied") or code == "UnauthorizedOperation":
            return CredentialsError(text, hint="use credentials whose IAM policy allows this call")
        return OperationFailed(text, hint="run the command again; if it persists, check the AWS service's status")
    return OperationFailed(f"the AWS SDK failed: {kind}: {error}", hint="run the command again")
