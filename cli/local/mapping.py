"""The program's recorded plan reduced to what local processes realise, each part driven by the declared inputs."""

from __future__ import annotations

import collections
import json
from typing import Any

RANDOM = "random:index/randomPassword:RandomPassword"
TOKEN = "${random:%s}"  # noqa: S105 - a placeholder, never a value
"""Stands for a generated value in the spec; the local stack fills in its own, so the spec holds no secret."""

# Each type the local stack realises, and what realises it; every other custom type is "cloud only".
REALISED = {
    "aws:rds/instance:Instance": "postgres: a PostgreSQL cluster (engine major, master user)",
    "aws:rds/parameterGroup:ParameterGroup": "postgres: postgresql.conf (the parameters PostgreSQL knows)",
    "postgresql:index/role:Role": "postgres: CREATE/ALTER ROLE as the master user",
    "postgresql:index/database:Database": "postgres: CREATE DATABASE as the master user",
    "postgresql:index/grant:Grant": "postgres: REVOKE/GRANT as the master user",
    "postgresql:index/defaultPrivileges:DefaultPrivileges": "postgres: ALTER DEFAULT PRIVILEGES as the master user",
    "pulumi:providers:postgresql": "postgres: the master user's connection",
    "aws:rds/proxy:Proxy": "pgbouncer: TLS required, idle client timeout",
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": "pgbouncer: pool size, borrow timeout",
    "aws:rds/proxyTarget:ProxyTarget": "pgbouncer: its one database",
    "aws:ecs/taskDefinition:TaskDefinition": "api: command, environment, secrets, port, health check, workers",
    "aws:ecs/service:Service": "api: one supervised process",
    "aws:secretsmanager/secret:Secret": "secrets.json: the value the task and the pooler read",
    "aws:secretsmanager/secretVersion:SecretVersion": "secrets.json: keys of the value, generated locally",
    RANDOM: "secrets.json: a value generated once",
    "aws:lb/loadBalancer:LoadBalancer": "tls: nginx",
    "aws:lb/listener:Listener": "tls: nginx server (redirect, TLS versions of the SSL policy)",
    "aws:lb/listenerRule:ListenerRule": "tls: nginx location (fixed responses)",
    "aws:lb/targetGroup:TargetGroup": "tls: nginx upstream (health check thresholds)",
    "aws:acm/certificate:Certificate": "tls: a certificate from the local CA",
    "aws:acm/certificateValidation:CertificateValidation": "tls: signed by the local CA at once",
    "aws:route53/record:Record": "tls: the name on the local certificate",
    "aws:s3/bucket:Bucket": "s3: a moto bucket of the same name",
    "aws:s3/bucketVersioning:BucketVersioning": "s3: put_bucket_versioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "s3: put_bucket_encryption"
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "s3: put_public_access_block",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "s3: put_bucket_lifecycle_configuration",
    "aws:s3/bucketPolicy:BucketPolicy": "s3: put_bucket_policy",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "s3: put_bucket_ownership_controls",
}

SSL_POLICY_PROTOCOLS = {
    "ELBSecurityPolicy-TLS13-1-3-2021-06": ("TLSv1.3",),
    "ELBSecurityPolicy-TLS13-1-2-2021-06": ("TLSv1.2", "TLSv1.3"),
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06": ("TLSv1.2", "TLSv1.3"),
    "ELBSecurityPolicy-TLS-1-2-2017-01": ("TLSv1.2",),
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06": ("TLSv1.2",),
    "ELBSecurityPolicy-FS-1-2-Res-2020-10": ("TLSv1.2",),
}
"""The TLS versions of the load balancer's SSL policies; an unknown policy is refused, not guessed."""


class MappingError(ValueError):
    """The plan declares something the local stack cannot realise faithfully; the message names the resource."""


def spec(recording: Any) -> dict[str, Any]:
    """The local stack's desired state from one recording: plain JSON, secrets replaced by tokens."""
    resources = [r for r in recording.resources]
    randoms = {r.state["result"]: r for r in resources if r.type == RANDOM}

    def tokens(value: Any) -> Any:
        """Generated values (mock passwords) become tokens the local stack fills with its own values."""
        if isinstance(value, str):
            for mock, resource in randoms.items():
                if mock in value:
                    value = value.replace(mock, TOKEN % resource.urn)
            return value
        if isinstance(value, dict):
            return {k: tokens(v) for k, v in value.items()}
        if isinstance(value, list):
            return [tokens(v) for v in value]
        return value

    by_type: dict[str, list[Any]] = collections.defaultdict(list)
    for r in resources:
        by_type[r.type].append(r)
    cloud_only = collections.Counter(
        r.type
        for r in resources
        if r.custom and r.type not in REALISED and not r.type.startswith("pulumi:providers:aws")
    )
    cloud_only.update(r.type for r in resources if r.type == "pulumi:providers:aws")
    realised = collections.Counter(r.type for r in resources if r.type in REALISED)
    return {
        "database": _database(by_type),
        "objects": _objects(by_type, tokens),
        "pooler": _pooler(by_type),
        "api": _api(by_type),
        "load_balancer": _load_balancer(by_type),
        "certificate": _certificate(by_type),
        "buckets": _buckets(by_type),
        "secrets": _secrets(by_type, tokens),
        "randoms": {r.urn: int(r.inputs.get("length", 32)) for r in by_type[RANDOM]},
        "realised": dict(sorted(realised.items())),
        "cloud_only": dict(sorted(cloud_only.items())),
        "exports": _plain(recording.exports),
    }


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _only(by_type: dict[str, list[Any]], token: str) -> Any:
    found = by_type.get(token, [])
    if len(found) != 1:
        raise MappingError(f"the local stack realises exactly one {token}; the plan declares {len(found)}")
    return found[0]


def _database(by_type: dict[str, list[Any]]) -> dict[str, Any]:
    instance = _only(by_type, "aws:rds/instance:Instance")
    inputs = instance.inputs
    if inputs.get("engine") != "postgres":
        raise MappingError(f"{instance.urn}: engine {inputs.get('engine')!r}; the local stack runs PostgreSQL only")
    parameters: dict[str, str] = {}
    group_name = inputs.get("parameterGroupName")
    for group in by_type.get("aws:rds/parameterGroup:ParameterGroup", []):
        if group.state.get("name") == group_name:
            parameters = {p["name"]: str(p["value"]) for p in group.inputs.get("parameters", [])}
            for name, value in parameters.items():
                if any(ord(c) < 32 for c in name + value):
                    raise MappingError(f"{group.urn}: parameter {name!r} has a control character in its value")
    return {
        "urn": instance.urn,
        "engine_version": str(inputs.get("engineVersion", "")).split(".")[0],
        "master_username": inputs["username"],
        "initial_database": inputs.get("dbName"),
        "parameters": parameters,
    }


def _objects(by_type: dict[str, list[Any]], tokens) -> list[dict[str, Any]]:
    """Roles, databases, grants and default privileges in the order the SQL must run."""
    order = (
        "postgresql:index/role:Role",
        "postgresql:index/database:Database",
        "postgresql:index/grant:Grant",
        "postgresql:index/defaultPrivileges:DefaultPrivileges",
    )
    objects = []
    for token in order:
        for r in by_type.get(token, []):
            objects.append(
                {
                    "urn": r.urn,
                    "kind": token.split(":")[-1],
                    "inputs": tokens(r.inputs),
                    "ignore_changes": sorted(r.ignore_changes),
                    "retain_on_delete": r.retain_on_delete,
                }
            )
    return objects


def _pooler(by_type: dict[str, list[Any]]) -> dict[str, Any]:
    proxy = _only(by_type, "aws:rds/proxy:Proxy")
    group = _only(by_type, "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup")
    pool = group.inputs.get("connectionPoolConfig", {})
    auths = proxy.inputs.get("auths", [])
    if len(auths) != 1:
        raise MappingError(f"{proxy.urn}: the local pooler signs in one role; the plan declares {len(auths)} auths")
    return {
        "urn": proxy.urn,
        "engine_family": proxy.inputs.get("engineFamily"),
        "require_tls": bool(proxy.inputs.get("requireTls", False)),
        "idle_client_timeout": int(proxy.inputs.get("idleClientTimeout", 1800)),
        "iam_auth": auths[0].get("iamAuth") == "REQUIRED",
        "credentials_secret": auths[0].get("secretArn"),
        "max_connections_percent": int(pool.get("maxConnectionsPercent", 100)),
        "max_idle_connections_percent": int(pool.get("maxIdleConnectionsPercent", 50)),
        "borrow_timeout": int(pool.get("connectionBorrowTimeout", 120)),
    }


def _api(by_type: dict[str, list[Any]]) -> dict[str, Any]:
    task = _only(by_type, "aws:ecs/taskDefinition:TaskDefinition")
    containers = json.loads(task.inputs["containerDefinitions"])
    essential = [c for c in containers if c.get("essential", True)]
    if len(essential) != 1:
        raise MappingError(f"{task.urn}: the local stack runs one essential container; found {len(essential)}")
    container = essential[0]
    ports = container.get("portMappings", [])
    if len(ports) != 1:
        raise MappingError(f"{task.urn}: the local API listens on one port; found {len(ports)} port mappings")
    services = by_type.get("aws:ecs/service:Service", [])
    return {
        "urn": task.urn,
        "container": container.get("name"),
        "command": container.get("command"),
        "entry_point": container.get("entryPoint"),
        "environment": {e["name"]: e["value"] for e in container.get("environment", [])},
        "secrets": {s["name"]: s["valueFrom"] for s in container.get("secrets", [])},
        "port": int(ports[0]["containerPort"]),
        "health_check": container.get("healthCheck"),
        "desired_count": int(services[0].inputs.get("desiredCount", 1)) if services else 1,
    }


def _load_balancer(by_type: dict[str, list[Any]]) -> dict[str, Any]:
    listeners = by_type.get("aws:lb/listener:Listener", [])
    redirect = https = None
    for listener in listeners:
        inputs = listener.inputs
        if inputs.get("protocol") == "HTTPS":
            policy = inputs.get("sslPolicy", "ELBSecurityPolicy-2016-08")
            if policy not in SSL_POLICY_PROTOCOLS:
                raise MappingError(
                    f"{listener.urn}: SSL policy {policy!r} has no local TLS versions; known: "
                    + ", ".join(SSL_POLICY_PROTOCOLS)
                )
            https = {"urn": listener.urn, "arn": listener.state.get("arn"), "protocols": SSL_POLICY_PROTOCOLS[policy]}
        else:
            action = (inputs.get("defaultActions") or [{}])[0]
            if action.get("type") == "redirect":
                target = action["redirect"]
                redirect = {
                    "urn": listener.urn,
                    "protocol": target.get("protocol", "#{protocol}"),
                    "status": int(str(target.get("statusCode", "HTTP_301")).removeprefix("HTTP_")),
                }
    if https is None:
        raise MappingError("the local stack needs the load balancer's HTTPS listener; the plan declares none")
    rules = []
    for rule in by_type.get("aws:lb/listenerRule:ListenerRule", []):
        inputs = rule.inputs
        actions = inputs.get("actions", [])
        fixed = [a["fixedResponse"] for a in actions if a.get("type") == "fixed-response"]
        paths = [v for c in inputs.get("conditions", []) for v in (c.get("pathPattern") or {}).get("values", [])]
        only_paths = all(set(c) == {"pathPattern"} for c in inputs.get("conditions", []))
        if not fixed or not paths or not only_paths:
            raise MappingError(f"{rule.urn}: the local load balancer realises fixed responses on paths only")
        rules.append(
            {
                "urn": rule.urn,
                "priority": int(inputs.get("priority", 50000)),
                "paths": paths,
                "status": int(fixed[0]["statusCode"]),
                "content_type": fixed[0].get("contentType", "text/plain"),
                "body": fixed[0].get("messageBody", ""),
            }
        )
    group = _only(by_type, "aws:lb/targetGroup:TargetGroup")
    check = group.inputs.get("healthCheck", {})
    return {
        "redirect": redirect,
        "https": https,
        "rules": sorted(rules, key=lambda r: r["priority"]),
        "target": {
            "port": int(group.inputs.get("port", 80)),
            "health_path": check.get("path", "/"),
            "healthy_threshold": int(check.get("healthyThreshold", 5)),
            "unhealthy_threshold": int(check.get("unhealthyThreshold", 2)),
            "interval": int(check.get("interval", 30)),
            "matcher": str(check.get("matcher", "200")),
        },
    }


def _certificate(by_type: dict[str, list[Any]]) -> dict[str, Any]:
    names = [r.inputs["domainName"] for r in by_type.get("aws:acm/certificate:Certificate", [])]
    names += [
        alt
        for r in by_type.get("aws:acm/certificate:Certificate", [])
        for alt in r.inputs.get("subjectAlternativeNames", [])
    ]
    records = [
        r.inputs["name"] for r in by_type.get("aws:route53/record:Record", []) if r.inputs.get("type") in ("A", "AAAA")
    ]
    return {"names": sorted({*names, *records})}


_BUCKET_PARTS = {
    "aws:s3/bucketVersioning:BucketVersioning": "versioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": "encryption",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "public_access_block",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "lifecycle",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "ownership",
}


def _buckets(by_type: dict[str, list[Any]]) -> list[dict[str, Any]]:
    buckets = {r.id: {"urn": r.urn, "name": r.id} for r in by_type.get("aws:s3/bucket:Bucket", [])}
    for token, part in _BUCKET_PARTS.items():
        for r in by_type.get(token, []):
            name = r.inputs.get("bucket")
            if name not in buckets:
                raise MappingError(f"{r.urn}: bucket {name!r} is not one of the program's buckets")
            buckets[name][part] = {k: v for k, v in r.inputs.items() if k != "bucket"}
    return [buckets[name] for name in sorted(buckets)]


def _secrets(by_type: dict[str, list[Any]], tokens) -> dict[str, Any]:
    """Each secret's ARN with its value's template (JSON keys with generated values as tokens)."""
    ids = {r.id: r.state.get("arn") for r in by_type.get("aws:secretsmanager/secret:Secret", [])}
    values = {}
    for version in by_type.get("aws:secretsmanager/secretVersion:SecretVersion", []):
        arn = ids.get(version.inputs.get("secretId"))
        if arn is not None:
            values[arn] = tokens(version.inputs.get("secretString", ""))
    return values
