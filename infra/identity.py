"""Identity: an Amazon Cognito user pool that signs users in, the API's scopes, and the clients that get tokens."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra import require, type_token
from infra.limits import (
    COGNITO_DOMAIN_PREFIX,
    COGNITO_DOMAIN_PREFIX_TEXT,
    COGNITO_MFA_MODES,
    COGNITO_PASSWORD_LENGTH,
    COGNITO_REFRESH_DAYS,
    COGNITO_TOKEN_MINUTES,
)

TYPE = type_token("identity", "Identity")

RESOURCE_SERVER = "map"
"""Identifier of the API's resource server: Cognito writes its scopes as `map/read`, `map/write`, `map/admin`."""
SCOPES = {
    "read": "read a user's record",
    "write": "write a user's record",
    "admin": "act on any user's record (machine clients only)",
}
"""The API's scopes by name, each with the description Cognito shows."""
APP_AUTH_FLOWS = ("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
"""How apps sign in: the password never leaves the device (SRP), and refresh tokens renew the session."""
MACHINE_AUTH_FLOWS = ("ALLOW_REFRESH_TOKEN_AUTH",)
"""The machine client signs no user in; without an explicit list Cognito would allow SRP and custom sign-in too."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class IdentityArgs:
    """Inputs of an Identity. Changing `domain_prefix` replaces the domain; every other field updates in place."""

    region: str
    """Region of the pool: the issuer is `https://cognito-idp.<region>.amazonaws.com/<pool id>`."""
    domain_prefix: str
    """Start of the pool's domain, which serves the client-credentials token endpoint; a random suffix follows."""
    mfa: str = "OPTIONAL"
    """OFF, OPTIONAL (users may enrol an authenticator app) or ON (every sign-in needs one)."""
    password_min_length: int = 12
    """Shortest password accepted; upper and lower case, digits and symbols are required as well."""
    self_sign_up: bool = False
    """Apps may call SignUp; off, only administrators (and `infra token`) create users."""
    access_token_minutes: int = 15
    """Life of an access token (both clients), 5 to 1440 minutes."""
    id_token_minutes: int = 15
    """Life of an ID token of the app client, 5 to 1440 minutes."""
    refresh_token_days: int = 7
    """Life of a refresh token of the app client, 1 to 3650 days."""
    protect: bool = True
    """Cognito refuses to delete the pool (deletion protection) and Pulumi protects it."""


class Identity(pulumi.ComponentResource):
    """The user pool, its resource server with the API's scopes, an app client and a machine client with a domain."""

    def __init__(self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__(TYPE, name, None, opts)
        self.pool = self._pool(name, args)
        self.resource_server = self._resource_server(name)
        self.app_client = self._app_client(name, args)
        self.machine_client = self._machine_client(name, args)
        self.domain = self._domain(name, args)

        self.user_pool_id = self.pool.id
        self.user_pool_arn = self.pool.arn
        self.issuer = pulumi.Output.concat(f"https://cognito-idp.{args.region}.amazonaws.com/", self.pool.id)
        self.jwks_url = pulumi.Output.concat(self.issuer, "/.well-known/jwks.json")
        self.app_client_id = self.app_client.id
        self.machine_client_id = self.machine_client.id
        self.token_endpoint = pulumi.Output.concat(
            "https://", self.domain.domain, f".auth.{args.region}.amazoncognito.com/oauth2/token"
        )
        self.register_outputs(
            {
                "user_pool_id": self.user_pool_id,
                "user_pool_arn": self.user_pool_arn,
                "issuer": self.issuer,
                "jwks_url": self.jwks_url,
                "app_client_id": self.app_client_id,
                "machine_client_id": self.machine_client_id,
                "token_endpoint": self.token_endpoint,
            }
        )

    def _pool(self, name: str, args: IdentityArgs) -> aws.cognito.UserPool:
        mfa_on = args.mfa != "OFF"
        # The users: strong passwords, e-mail verified before it counts, recovery by verified e-mail only.
        return aws.cognito.UserPool(
            f"{name}-users",
            deletion_protection="ACTIVE" if args.protect else "INACTIVE",
            mfa_configuration=args.mfa,
            software_token_mfa_configuration={"enabled": True} if mfa_on else None,
            password_policy={
                "minimum_length": args.password_min_length,
                "require_lowercase": True,
                "require_uppercase": True,
                "require_numbers": True,
                "require_symbols": True,
                "temporary_password_validity_days": 3,
            },
            auto_verified_attributes=["email"],
            # A changed e-mail address takes effect once verified; until then the old one stays.
            user_attribute_update_settings={"attributes_require_verification_before_updates": ["email"]},
            account_recovery_setting={"recovery_mechanisms": [{"name": "verified_email", "priority": 1}]},
            admin_create_user_config={"allow_admin_create_user_only": not args.self_sign_up},
            username_configuration={"case_sensitive": False},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

    def _resource_server(self, name: str) -> aws.cognito.ResourceServer:
        # The API as Cognito knows it: the scopes a token may carry.
        return aws.cognito.ResourceServer(
            f"{name}-api",
            user_pool_id=self.pool.id,
            identifier=RESOURCE_SERVER,
            name="groundwork API",
            scopes=[{"scope_name": scope, "scope_description": text} for scope, text in SCOPES.items()],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _app_client(self, name: str, args: IdentityArgs) -> aws.cognito.UserPoolClient:
        # Mobile and web apps: a public client (no secret an app could leak), SRP sign-in and refresh tokens.
        return aws.cognito.UserPoolClient(
            f"{name}-app",
            user_pool_id=self.pool.id,
            generate_secret=False,
            explicit_auth_flows=list(APP_AUTH_FLOWS),
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=args.access_token_minutes,
            id_token_validity=args.id_token_minutes,
            refresh_token_validity=args.refresh_token_days,
            token_validity_units={"access_token": "minutes", "id_token": "minutes", "refresh_token": "days"},
            auth_session_validity=3,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _machine_client(self, name: str, args: IdentityArgs) -> aws.cognito.UserPoolClient:
        # Service-to-service calls and the connectivity check: client credentials, the API's scopes, no user.
        return aws.cognito.UserPoolClient(
            f"{name}-machine",
            user_pool_id=self.pool.id,
            generate_secret=True,
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["client_credentials"],
            allowed_oauth_scopes=self.resource_server.scope_identifiers,
            supported_identity_providers=["COGNITO"],
            explicit_auth_flows=list(MACHINE_AUTH_FLOWS),
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=args.access_token_minutes,
            token_validity_units={"access_token": "minutes"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.resource_server]),
        )

    def _domain(self, name: str, args: IdentityArgs) -> aws.cognito.UserPoolDomain:
        """The pool's domain, whose /oauth2/token endpoint grants the machine client its tokens."""
        child = pulumi.ResourceOptions(parent=self)
        # Domain prefixes are unique across AWS in a region: a random suffix keeps two stacks from colliding.
        suffix = random.RandomId(f"{name}-domain-suffix", byte_length=4, opts=child)
        # The domain itself: Cognito's hosted endpoints, of which the machine client uses /oauth2/token.
        return aws.cognito.UserPoolDomain(
            f"{name}-domain",
            domain=pulumi.Output.concat(args.domain_prefix, "-", suffix.hex),
            user_pool_id=self.pool.id,
            opts=child,
        )


def _validate(args: IdentityArgs) -> None:
    """Raises ValueError naming the field and what is allowed."""
    require(args.mfa in COGNITO_MFA_MODES, "mfa", args.mfa, ", ".join(COGNITO_MFA_MODES))
    low, high = COGNITO_PASSWORD_LENGTH
    require(low <= args.password_min_length <= high, "password_min_length", args.password_min_length, f"{low}-{high}")
    low, high = COGNITO_TOKEN_MINUTES
    for field in ("access_token_minutes", "id_token_minutes"):
        value = getattr(args, field)
        require(low <= value <= high, field, value, f"{low} to {high} minutes")
    low, high = COGNITO_REFRESH_DAYS
    require(low <= args.refresh_token_days <= high, "refresh_token_days", args.refresh_token_days, f"{low}-{high}")
    longest = max(args.access_token_minutes, args.id_token_minutes)
    require(
        args.refresh_token_days * 1440 > longest,
        "refresh_token_days",
        args.refresh_token_days,
        f"longer than the access and ID tokens ({longest} minutes)",
    )
    require(
        bool(COGNITO_DOMAIN_PREFIX.fullmatch(args.domain_prefix)),
        "domain_prefix",
        args.domain_prefix,
        COGNITO_DOMAIN_PREFIX_TEXT,
    )
