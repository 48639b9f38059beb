"""Pooling: an RDS Proxy in front of the database, clients signing in with IAM, and the URL that points at it."""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra import assume_role_policy, policy_document, require, type_token
from infra.keys import KeyArns, secrets_key_use

TYPE = type_token("pooling", "Pooling")


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolingArgs:
    """Inputs of Pooling."""

    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets of the proxy's endpoints (two or more zones)."""
    security_group_id: pulumi.Input[str]
    """Security group that admits only the service (the proxy's own group)."""
    instance_identifier: pulumi.Input[str]
    """RDS instance the proxy connects to."""
    credentials_secret_arn: pulumi.Input[str]
    """Secret holding {"username", "password", ...} the proxy signs in to the database with (rotated)."""
    username: str
    """That role's name: clients connect as it with an IAM token, never a password."""
    database_name: str
    """Database the connection URL names."""
    max_connections_percent: int = 90
    """Share of the database's max_connections the proxy may open."""
    max_idle_connections_percent: int = 50
    """Share of max_connections kept open while idle."""
    borrow_timeout_seconds: int = 30
    """Seconds a client waits for a pooled connection."""
    idle_client_timeout_seconds: int = 1800
    """Seconds before an idle client connection is closed."""
    keys: KeyArns = dataclasses.field(default_factory=KeyArns)
    """Customer keys to encrypt with (the stack's own on protected stacks); AWS-managed keys where None."""


class Pooling(pulumi.ComponentResource):
    """RDS Proxy with TLS and IAM authentication required; it signs in to the database with the rotated secret."""

    def __init__(self, name: str, args: PoolingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require(
            1 <= args.max_connections_percent <= 100,
            "max_connections_percent",
            args.max_connections_percent,
            "1 to 100",
        )
        require(
            0 <= args.max_idle_connections_percent <= args.max_connections_percent,
            "max_idle_connections_percent",
            args.max_idle_connections_percent,
            f"0 to max_connections_percent ({args.max_connections_percent})",
        )
        require(
            0 <= args.borrow_timeout_seconds <= 3600, "borrow_timeout_seconds", args.borrow_timeout_seconds, "0 to 3600"
        )
        require(
            1 <= args.idle_client_timeout_seconds <= 28800,
            "idle_client_timeout_seconds",
            args.idle_client_timeout_seconds,
            "1 to 28800",
        )
        require(len(args.subnet_ids) >= 2, "subnet_ids", len(args.subnet_ids), "subnets in two or more zones")
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Role the proxy assumes to read the client credentials.
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("rds.amazonaws.com"),
            description=f"{name}: RDS Proxy reads its credentials secret",
            opts=child,
        )
        # Read access to exactly the one credentials secret.
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=pulumi.Output.all(arn=args.credentials_secret_arn, key=args.keys.secrets).apply(
                lambda v: policy_document(
                    [
                        {
                            "Sid": "ReadCredentials",
                            "Effect": "Allow",
                            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                            "Resource": v["arn"],
                        },
                        *secrets_key_use(v["key"], ("kms:Decrypt",)),
                    ]
                )
            ),
            opts=child,
        )
        # The proxy: TLS required; clients present an IAM token, so they hold no database password and the
        # password the proxy uses (from the secret) can rotate underneath them.
        self.proxy = aws.rds.Proxy(
            f"{name}-proxy",
            engine_family="POSTGRESQL",
            require_tls=True,
            debug_logging=False,
            idle_client_timeout=args.idle_client_timeout_seconds,
            role_arn=role.arn,
            vpc_subnet_ids=list(args.subnet_ids),
            vpc_security_group_ids=[args.security_group_id],
            auths=[
                {
                    "auth_scheme": "SECRETS",
                    "iam_auth": "REQUIRED",
                    "client_password_auth_type": "POSTGRES_SCRAM_SHA_256",
                    "secret_arn": args.credentials_secret_arn,
                    "description": f"{args.username} login role",
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )
        # Pool sizing and how long clients wait for a connection.
        aws.rds.ProxyDefaultTargetGroup(
            f"{name}-target-group",
            db_proxy_name=self.proxy.name,
            connection_pool_config={
                "max_connections_percent": args.max_connections_percent,
                "max_idle_connections_percent": args.max_idle_connections_percent,
                "connection_borrow_timeout": args.borrow_timeout_seconds,
            },
            opts=child,
        )
        # Registers the database instance behind the proxy.
        aws.rds.ProxyTarget(
            f"{name}-target",
            db_proxy_name=self.proxy.name,
            target_group_name="default",
            db_instance_identifier=args.instance_identifier,
            opts=child,
        )

        self.endpoint = self.proxy.endpoint
        self.proxy_name = self.proxy.name
        # The service's DATABASE_URL: no password in it, so it is plain configuration, not a secret.
        self.database_url = self.proxy.endpoint.apply(
            lambda host: connection_url(host, args.username, args.database_name)
        )
        # What the service's role may connect as: this proxy, this database user.
        self.connect_arn = self.proxy.arn.apply(lambda arn: connect_arn(arn, args.username))
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "proxy_name": self.proxy_name,
                "proxy_arn": self.proxy.arn,
                "database_url": self.database_url,
                "connect_arn": self.connect_arn,
            }
        )


def connection_url(host: str, username: str, database: str, port: int = 5432) -> str:
    """A postgresql:// URL without a password (the client signs in with an IAM token), TLS verified."""
    user = urllib.parse.quote(username, safe="")
    name = urllib.parse.quote(database, safe="")
    return f"postgresql://{user}@{host}:{port}/{name}?sslmode=verify-full&sslrootcert=system"


def connect_arn(proxy_arn: str, username: str) -> str:
    """The `rds-db:connect` resource of a database user behind a proxy (arn:...:dbuser:prx-<id>/<user>)."""
    head, _, proxy_id = proxy_arn.rpartition(":db-proxy:")
    require(bool(head) and proxy_id.startswith("prx-"), "proxy_arn", proxy_arn, "an RDS Proxy ARN (…:db-proxy:prx-…)")
    return f"{head.replace(':rds:', ':rds-db:', 1)}:dbuser:{proxy_id}/{username}"
