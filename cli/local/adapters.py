"""The few places where the local stack cannot behave like AWS, each adapter with the one-line reason it exists."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cli.local.tls import HOST_NAMES

_TOKEN = re.compile(r"\$\{random:([^}]+)\}")
RDS_PORT = 5432


def fill(value: Any, randoms: Mapping[str, str]) -> Any:
    """Generated values: the plan holds a token for each random password, the local stack its own value."""
    if isinstance(value, str):
        return _TOKEN.sub(lambda match: randoms[match.group(1)], value)
    if isinstance(value, dict):
        return {k: fill(v, randoms) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, randoms) for v in value]
    return value


def secret_value(value_from: str, secrets: Mapping[str, str], randoms: Mapping[str, str]) -> str:
    """ECS secret injection: the agent reads Secrets Manager; locally the value comes from the stack's own
    secret store (secrets.json, mode 600) and reaches the process's environment only, never its command line."""
    for arn, template in secrets.items():
        if value_from == arn or value_from.startswith(arn + ":"):
            text = fill(template, randoms)
            key = value_from[len(arn) + 1 :].split(":")[0] if value_from != arn else ""
            return str(json.loads(text)[key]) if key else text
    raise KeyError(f"no secret of the program has the ARN in {value_from.split(':')[:6]}")


def database_url(url: str, *, port: int, ca_file: Path) -> str:
    """RDS endpoints listen on 5432 with a publicly trusted certificate; locally the pooler listens on the
    stack's own port with a certificate of the local CA, so the URL names that port and that CA."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    if query.get("sslrootcert") == ["system"]:
        query["sslrootcert"] = [str(ca_file)]
    netloc = f"{user}{host}:{port}" if parts.port in (None, RDS_PORT) else parts.netloc
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=urllib.parse.urlencode(query, doseq=True)))


def iam_database_auth(environment: dict[str, str], password: str) -> dict[str, str]:
    """IAM database authentication needs AWS to sign tokens; locally the role signs in with the password of the
    pooler's credentials secret, given as PGPASSWORD (libpq's own variable) so DATABASE_URL stays password-free."""
    if environment.get("DATABASE_IAM_AUTH", "").lower() in ("1", "true", "yes", "on"):
        environment = {**environment, "DATABASE_IAM_AUTH": "false", "PGPASSWORD": password}
    return environment


def task_port(environment: dict[str, str], container_port: int, local_port: int) -> dict[str, str]:
    """A Fargate task owns its network address (awsvpc); locally the API shares this machine's loopback, so it
    listens on a port chosen for the stack, on 127.0.0.1 only."""
    return {**environment, "PORT": str(local_port), "HOST": "127.0.0.1"}


def health_check_command(check: Mapping[str, Any], container_port: int, local_port: int) -> list[str]:
    """The task definition's health check, run against the port the local API listens on (see task_port)."""
    command = [str(part) for part in check.get("command", [])]
    if not command:
        return []
    kind, args = command[0], command[1:]
    args = [arg.replace(f"127.0.0.1:{container_port}", f"127.0.0.1:{local_port}") for arg in args]
    args = [arg.replace(f"localhost:{container_port}", f"127.0.0.1:{local_port}") for arg in args]
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(args)]
    return args if kind == "CMD" else command


def end_sessions_sql() -> str:
    """Privileges are checked when a session starts and the pooler keeps sessions open; after a role's grants
    change, its sessions are ended so the running stack shows the declared privileges at once."""
    return "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s AND pid <> pg_backend_pid()"


def cache_url(url: str, *, declared_port: int, port: int) -> str:
    """ElastiCache listens on the group's declared port on its own hosts; locally redis-server listens on the
    stack's own port on loopback, so the URL names that port."""
    parts = urllib.parse.urlsplit(url)
    if parts.port not in (None, declared_port):
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


def iam_cache_auth(environment: dict[str, str], password: str, ca_file: Path) -> dict[str, str]:
    """IAM sign-in to ElastiCache needs AWS to sign tokens; locally the same user signs in with a password from
    the stack's secret store (CACHE_PASSWORD, through the environment like PGPASSWORD), and the certificate of
    the local CA is trusted instead of the system store (CACHE_CA_FILE)."""
    if "CACHE_URL" not in environment:
        return environment
    environment = {**environment, "CACHE_CA_FILE": str(ca_file)}
    if environment.get("CACHE_IAM_AUTH", "").lower() in ("1", "true", "yes", "on"):
        environment.update(CACHE_IAM_AUTH="false", CACHE_PASSWORD=password)
    return environment


def cloud_metrics(environment: dict[str, str]) -> dict[str, str]:
    """CloudWatch has no local counterpart and the processes get no cloud credentials: the worker's backlog
    metric namespace is cleared, so the worker only logs its backlog (what it does without a namespace)."""
    return {k: v for k, v in environment.items() if k != "WORKER_METRIC_NAMESPACE"}


def files_endpoint(environment: dict[str, str], s3_port: int, ca: Path) -> dict[str, str]:
    """The API signs its file URLs for AWS's S3 with the task role; locally the bucket is on moto's server, which takes
    any key: FILES_ENDPOINT_URL names that server, with placeholder credentials, and its certificate's CA is trusted."""
    if "FILES_BUCKET" not in environment:
        return environment
    return {
        **environment,
        "FILES_ENDPOINT_URL": f"https://127.0.0.1:{s3_port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_CA_BUNDLE": str(ca),
    }


def redirect_host() -> str:
    """Port 80 redirects to the service's declared host name, which resolves to the cloud's load balancer; locally
    it redirects to `localhost` (on the local certificate, resolving everywhere), and never to a request's Host."""
    return HOST_NAMES[0]


MOTO_TOKEN_LIFETIME_S = 3600
"""How long moto's access tokens live, whatever the client's AccessTokenValidity says."""
SIGN_IN_SCOPE = "aws.cognito.signin.user.admin"


def identity_environment(
    environment: dict[str, str], identity: Mapping[str, Any] | None, names: Mapping[str, str], moto_port: int, ca: Path
) -> dict[str, str]:
    """The API's token settings for the local pool, through the four adapters below."""
    if identity is None or "JWT_JWKS_URL" not in environment:
        return environment
    environment = local_pool_ids(environment, names)
    environment = issuer_host(environment, identity["id"], moto_port, ca)
    environment = token_lifetime(environment)
    return fixed_scope(environment)


def local_pool_ids(environment: dict[str, str], names: Mapping[str, str]) -> dict[str, str]:
    """The plan names the pool and its clients by ids the offline run made up; moto's pool has its own (derived from
    the resources' names, cli/local/pool_ids.py), so the issuer, key set and client ids name those."""
    updated = dict(environment)
    for key in ("JWT_ISSUER", "JWT_JWKS_URL", "JWT_AUDIENCE"):
        for made_up, local in names.items():
            updated[key] = updated.get(key, "").replace(made_up, local)
    return updated


def issuer_host(environment: dict[str, str], pool: str, moto_port: int, ca: Path) -> dict[str, str]:
    """moto writes `iss` as Cognito does (https://cognito-idp.<region>.amazonaws.com/<pool>), so JWT_ISSUER stays; but
    it serves the key set at its own address, over TLS with the local CA's certificate: JWT_JWKS_URL names that address
    and SSL_CERT_FILE makes the local CA the API's trust store (its one outbound TLS call is the key-set fetch)."""
    return {
        **environment,
        "JWT_JWKS_URL": f"https://127.0.0.1:{moto_port}/{pool}/.well-known/jwks.json",
        "SSL_CERT_FILE": str(ca),
    }


def token_lifetime(environment: dict[str, str]) -> dict[str, str]:
    """Cognito's access tokens live as long as the client says (accessTokenMinutes); moto's always live an hour, so the
    API's maximum lifetime is raised to an hour where the stack's is shorter."""
    declared = int(environment.get("JWT_MAX_LIFETIME") or 0)
    return {**environment, "JWT_MAX_LIFETIME": str(max(declared, MOTO_TOKEN_LIFETIME_S))}


def fixed_scope(environment: dict[str, str]) -> dict[str, str]:
    """moto writes the one scope `aws.cognito.signin.user.admin` into every user's access token, as Cognito does for
    SRP sign-in; the API takes it for the user's own record (JWT_USER_SCOPE), which the program already says."""
    return {**environment, "JWT_USER_SCOPE": environment.get("JWT_USER_SCOPE") or SIGN_IN_SCOPE}


def local_sign_in_flow() -> str:
    """The app client allows SRP only, but moto does not check SRP proofs (its challenge is random) while it does check
    passwords and does not enforce a client's flows: users of the local pool sign in with USER_PASSWORD_AUTH."""
    return "USER_PASSWORD_AUTH"


CONFIRMATION = (
    "moto accepts any confirmation code, so a local SignUp would prove nothing about an e-mail address: the local "
    "stack creates its users as an administrator does (AdminCreateUser, password set as permanent) and never signs up."
)
"""Why `infra token` on the local stack creates users the administrator's way."""

CLIENT_CREDENTIALS_GRANT = (
    "moto has no OAuth 2.0 token endpoint: the local moto server answers POST /oauth2/token for the client credentials "
    "grant itself (cli/local/moto_identity.py), at its own address instead of the pool domain's."
)
"""Why the local token endpoint is the moto server's address."""


def worker_metrics(environment: dict[str, str], port: int, interval: int) -> dict[str, str]:
    """The cloud reads the worker's backlog from CloudWatch; here Prometheus scrapes it from the worker's own
    /metrics on a loopback port, reported as often as it is scraped."""
    return {
        **environment,
        "METRICS_PORT": str(port),
        "METRICS_HOST": "127.0.0.1",
        "WORKER_METRIC_INTERVAL": str(interval),
    }
