"""The few places where the local stack cannot behave like AWS, each adapter with the one-line reason it exists."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


def worker_metrics(environment: dict[str, str], port: int, interval: int) -> dict[str, str]:
    """The cloud reads the worker's backlog from CloudWatch; here Prometheus scrapes it from the worker's own
    /metrics on a loopback port, reported as often as it is scraped."""
    return {
        **environment,
        "METRICS_PORT": str(port),
        "METRICS_HOST": "127.0.0.1",
        "WORKER_METRIC_INTERVAL": str(interval),
    }
