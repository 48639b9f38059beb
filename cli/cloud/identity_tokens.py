"""Tokens from a cloud stack's Cognito user pool: machine tokens by client credentials, users signed in with SRP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cli.core.errors import ConfigError, ConfirmationRefused, CredentialsError, NotAvailable, OperationFailed
from cli.core.tokens import check_user_name, client_credentials, new_password

SECRET_PREFIX = "groundwork"  # noqa: S105 - a name prefix, not a secret
"""Passwords of the users `infra token` created live in Secrets Manager as groundwork/<stack>/token-users/<name>."""


def secret_name(stack: str, user: str) -> str:
    return f"{SECRET_PREFIX}/{stack}/token-users/{user}"


def _failed(action: str, exc: Exception) -> Exception:
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return CredentialsError(f"no AWS credentials to {action}", hint="sign in (aws sso login or AWS_PROFILE)")
    code = exc.response.get("Error", {}).get("Code", "ClientError") if isinstance(exc, ClientError) else "error"
    if "Denied" in code or "Token" in code or "Signature" in code:
        return CredentialsError(
            f"cannot {action}: {code}", hint="check your AWS identity's permissions (docs/identity.md)"
        )
    return OperationFailed(f"cannot {action}: {code}", hint="check the stack is deployed (`infra outputs`)")


@dataclass
class CloudIdentity:
    """The stack's pool as its outputs name it; AWS clients made by `clients` (a boto3 client per service name)."""

    stack: str
    values: dict[str, Any]
    clients: Callable[[str], Any] = field(repr=False)

    def _need(self, name: str) -> str:
        from stacks import outputs as names

        value = self.values.get(name)
        if not value:
            if self.values.get(names.JWT_ISSUER) and not self.values.get(names.USER_POOL_ID):
                raise NotAvailable(
                    f"stack {self.stack!r} trusts an issuer of your own (oidcIssuer); it has no user pool to ask",
                    hint="get a token from that issuer and pass it with --token",
                )
            raise ConfigError(
                f"stack {self.stack!r} has no {name!r} output", hint=f"run `infra up --stack {self.stack}`"
            )
        return str(value)

    def machine_token(self, scopes: tuple[str, ...] = ()) -> dict[str, Any]:
        """A token of the machine client from the pool domain's token endpoint; its secret is read from Cognito."""
        from botocore.exceptions import BotoCoreError, ClientError

        from stacks import outputs as names

        pool, client = self._need(names.USER_POOL_ID), self._need(names.MACHINE_CLIENT_ID)
        endpoint = self._need(names.TOKEN_ENDPOINT)
        try:
            described = self.clients("cognito-idp").describe_user_pool_client(UserPoolId=pool, ClientId=client)
        except (BotoCoreError, ClientError) as exc:
            raise _failed("read the machine client's secret", exc) from None
        secret = described["UserPoolClient"]["ClientSecret"]
        return client_credentials(endpoint, client, secret, scopes=scopes)

    def user_token(self, name: str, *, confirm: Callable[[str], bool]) -> dict[str, Any]:
        """An access token of the user, signed in with SRP through the app client as an app would.

        A user this command has not created is never touched (its password is not ours); a new one is created only
        once `confirm` agrees, with a random password kept in Secrets Manager.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        from stacks import outputs as names

        check_user_name(name)
        pool, app = self._need(names.USER_POOL_ID), self._need(names.APP_CLIENT_ID)
        idp, store = self.clients("cognito-idp"), self.clients("secretsmanager")
        secret_id = secret_name(self.stack, name)
        try:
            password = _stored(store, secret_id)
            exists = _user_exists(idp, pool, name)
            if exists and password is None:
                raise ConfigError(
                    f"user {name!r} exists in the pool of {self.stack!r} but was not created by `infra token`",
                    hint="sign it in from your app; `infra token` signs in only the users it created",
                )
            if not exists:
                if not confirm(f"create user {name!r} in the user pool {pool} of stack {self.stack!r}?"):
                    raise ConfirmationRefused("no user was created", hint="answer yes, or pass --yes")
                if password is None:
                    password = new_password()
                    store.create_secret(
                        Name=secret_id,
                        SecretString=password,
                        Description=f"password of {name}, a user `infra token` created in {pool}",
                        Tags=[{"Key": "stack", "Value": self.stack}, {"Key": "managed-by", "Value": "infra token"}],
                    )
                idp.admin_create_user(UserPoolId=pool, Username=name, MessageAction="SUPPRESS")
                idp.admin_set_user_password(UserPoolId=pool, Username=name, Password=password, Permanent=True)
            sub = _sub(idp, pool, name)
        except (BotoCoreError, ClientError) as exc:
            raise _failed(f"prepare user {name!r}", exc) from None
        assert password is not None
        result = _srp(idp, pool, app, name, password)
        return {
            "access_token": result["AccessToken"],
            "expires_in": int(result["ExpiresIn"]),
            "token_type": "Bearer",
            "sub": sub,
            "user": name,
        }


def _stored(store: Any, secret_id: str) -> str | None:
    try:
        return store.get_secret_value(SecretId=secret_id)["SecretString"]
    except store.exceptions.ResourceNotFoundException:
        return None


def _user_exists(idp: Any, pool: str, name: str) -> bool:
    try:
        idp.admin_get_user(UserPoolId=pool, Username=name)
    except idp.exceptions.UserNotFoundException:
        return False
    return True


def _sub(idp: Any, pool: str, name: str) -> str:
    attributes = idp.admin_get_user(UserPoolId=pool, Username=name)["UserAttributes"]
    return next(a["Value"] for a in attributes if a["Name"] == "sub")


def _srp(idp: Any, pool: str, client: str, name: str, password: str) -> dict[str, Any]:
    """SRP sign-in (USER_SRP_AUTH, then PASSWORD_VERIFIER): what the app client allows, and what apps do."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pycognito.aws_srp import AWSSRP
    from pycognito.exceptions import ForceChangePasswordException, SoftwareTokenMFAChallengeException

    try:
        answer = AWSSRP(
            username=name, password=password, pool_id=pool, client_id=client, client=idp
        ).authenticate_user()
    except (SoftwareTokenMFAChallengeException, ForceChangePasswordException) as exc:
        raise OperationFailed(
            f"signing {name!r} in needs more than a password ({type(exc).__name__})",
            hint="with userPoolMfa ON every sign-in needs an authenticator app; use OPTIONAL for token users",
        ) from None
    except (BotoCoreError, ClientError) as exc:
        raise _failed(f"sign {name!r} in", exc) from None
    result = answer.get("AuthenticationResult") if isinstance(answer, dict) else None
    if not result:
        raise OperationFailed(f"signing {name!r} in did not end with tokens", hint="check the pool's MFA setting")
    return result
