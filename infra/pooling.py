"""Pooling: an RDS Proxy in front of the database and the service's connection URL that points at it."""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra import assume_role_policy, policy_document, require, type_token

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
    """Secret holding {"username", "password"} of the role clients log in as."""
    username: str
    """That role's name, for the connection URL."""
    password: pulumi.Input[str]
    """That role's password (a secret output), for the connection URL."""
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
    secret_recovery_window_days: int = 30
    """Days a deleted connection-URL secret can be restored (0 or 7 to 30)."""


class Pooling(pulumi.ComponentResource):
    """RDS Proxy with TLS required and secret-based auth, plus a DATABASE_URL secret for the service."""

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
        require(
            args.secret_recovery_window_days == 0 or 7 <= args.secret_recovery_window_days <= 30,
            "secret_recovery_window_days",
            args.secret_recovery_window_days,
            "0 or 7 to 30",
        )
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
            policy=pulumi.Output.from_input(args.credentials_secret_arn).apply(
                lambda arn: policy_document(
                    [
                        {
                            "Sid": "ReadCredentials",
                            "Effect": "Allow",
                            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                            "Resource": arn,
                        }
                    ]
                )
            ),
            opts=child,
        )
        # The proxy: TLS required, clients authenticate with the secret's SCRAM credentials.
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
                    "iam_auth": "DISABLED",
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

        password = pulumi.Output.secret(args.password)
        url = pulumi.Output.all(self.proxy.endpoint, password).apply(
            lambda v: connection_url(v[0], args.username, v[1], args.database_name)
        )
        # The service's DATABASE_URL, through the proxy; injected into tasks by ECS, never as plain text.
        self.url_secret = aws.secretsmanager.Secret(
            f"{name}-database-url",
            description=f"{name}: DATABASE_URL of the service (through RDS Proxy, TLS required)",
            recovery_window_in_days=args.secret_recovery_window_days,
            opts=child,
        )
        # Current value of the connection URL.
        aws.secretsmanager.SecretVersion(
            f"{name}-database-url-value",
            secret_id=self.url_secret.id,
            secret_string=pulumi.Output.secret(url),
            opts=child,
        )

        self.endpoint = self.proxy.endpoint
        self.proxy_name = self.proxy.name
        self.url_secret_arn = self.url_secret.arn
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "proxy_name": self.proxy_name,
                "proxy_arn": self.proxy.arn,
                "url_secret_arn": self.url_secret_arn,
            }
        )


def connection_url(host: str, username: str, password: str, database: str, port: int = 5432) -> str:
    """A postgresql:// URL with TLS required; user and password are percent-encoded."""
    user = urllib.parse.quote(username, safe="")
    secret = urllib.parse.quote(password, safe="")
    name = urllib.parse.quote(database, safe="")
    return f"postgresql://{user}:{secret}@{host}:{port}/{name}?sslmode=verify-full&sslrootcert=system"
