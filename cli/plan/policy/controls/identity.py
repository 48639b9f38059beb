"""Controls 57-59: the user pool's secure defaults, its clients' token handling, and its protection in prod."""

from __future__ import annotations

from collections.abc import Iterator

from cli.core import resource_types
from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView, inputs

_POOL = resource_types.COGNITO_USER_POOL
_CLIENT = resource_types.COGNITO_USER_POOL_CLIENT
MIN_PASSWORD_LENGTH = 8
"""Below this a password policy is weak whatever else it asks (NIST SP 800-63B's floor)."""
PASSWORD_FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH")
"""Sign-in flows that send the password itself, where SRP proves knowledge of it."""
MAX_ACCESS_TOKEN_MINUTES = 60
_UNIT_MINUTES = {"seconds": 1 / 60, "minutes": 1, "hours": 60, "days": 1440}


@control(
    "57",
    "User pool requires strong passwords and verified e-mail",
    sources=("NIST SP 800-63B 5.1.1.2", "OWASP ASVS V2.1"),
    level="E",
)
def pool_defaults(view: PlanView) -> Iterator[Violation]:
    for pool in view.of(_POOL):
        args = inputs(pool)
        policy = args.get("passwordPolicy") or {}
        if int(policy.get("minimumLength") or 8) < MIN_PASSWORD_LENGTH or not policy:
            yield Violation(pool["urn"], f"no password policy of at least {MIN_PASSWORD_LENGTH} characters")
        missing = [
            k for k in ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols") if not policy.get(k)
        ]
        if policy and missing:
            yield Violation(pool["urn"], f"the password policy does not require {', '.join(missing)}")
        if "email" not in (args.get("autoVerifiedAttributes") or []):
            yield Violation(pool["urn"], "e-mail addresses are not verified (autoVerifiedAttributes lacks email)")
        update = (args.get("userAttributeUpdateSettings") or {}).get("attributesRequireVerificationBeforeUpdates")
        if "email" not in (update or []):
            yield Violation(pool["urn"], "a changed e-mail address counts before it is verified")


@control(
    "58",
    "User pool clients hide user existence, revoke tokens and keep them short",
    sources=("OWASP ASVS V2.2", "RFC 9700 2.1.2"),
    level="E/P",
)
def client_tokens(view: PlanView) -> Iterator[Violation]:
    for client in view.of(_CLIENT):
        args = inputs(client)
        if args.get("preventUserExistenceErrors") != "ENABLED":
            yield Violation(
                client["urn"], "preventUserExistenceErrors is not ENABLED (sign-in tells who has an account)"
            )
        if args.get("enableTokenRevocation") is False:
            yield Violation(client["urn"], "token revocation is off (a stolen refresh token cannot be revoked)")
        flows = [f for f in args.get("explicitAuthFlows") or [] if f in PASSWORD_FLOWS]
        if flows:
            yield Violation(client["urn"], f"{', '.join(flows)} sends the password itself (use SRP)")
        if "implicit" in (args.get("allowedOauthFlows") or []):
            yield Violation(client["urn"], "the implicit grant hands tokens out in URLs (use the code grant)")
        unit = (args.get("tokenValidityUnits") or {}).get("accessToken", "hours")
        minutes = float(args.get("accessTokenValidity") or 1) * _UNIT_MINUTES.get(unit, 60)
        if minutes > MAX_ACCESS_TOKEN_MINUTES:
            yield Violation(
                client["urn"], f"access tokens live {minutes:g} minutes (at most {MAX_ACCESS_TOKEN_MINUTES})", level="P"
            )


@control("59", "User pool protected against deletion in prod", sources=("groundwork:protect",), level="P")
def pool_protected(view: PlanView) -> Iterator[Violation]:
    for pool in view.of(_POOL):
        if inputs(pool).get("deletionProtection") != "ACTIVE":
            yield Violation(pool["urn"], "deletionProtection is not ACTIVE: deleting the pool deletes every user")
        if not pool["options"].get("protect"):
            yield Violation(pool["urn"], "not protected: a destroy or replacement deletes every user")
