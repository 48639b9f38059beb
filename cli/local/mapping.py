"""The program's recorded plan reduced to what local processes realise, each part driven by the declared inputs."""

from __future__ import annotations

import collections
import json
import re
from typing import Any

from cli.core import resource_types
from cli.local import alert_rules, identity_mapping, mapping_edge
from cli.local.mapping_core import MappingError, only, plain_text
from infra.limits import CACHE_NODE_MEMORY_MIB, CACHE_RESERVED_MEMORY_PERCENT

RANDOM = resource_types.RANDOM_PASSWORD
TOKEN = "${random:%s}"  # noqa: S105 - a placeholder, never a value
"""Stands for a generated value in the spec; the local stack fills in its own, so the spec holds no secret."""

REPLICATION_GROUP = resource_types.ELASTICACHE_REPLICATION_GROUP
WEB_ACL = resource_types.WAFV2_WEB_ACL
SCHEDULE = resource_types.SCHEDULER_SCHEDULE
METRIC_ALARM = resource_types.CLOUDWATCH_METRIC_ALARM
TASK_DEFINITION = resource_types.ECS_TASK_DEFINITION
ECS_SERVICE = resource_types.ECS_SERVICE
RESERVED_NAMES = ("postgres", "pgbouncer", "cache", "api", "scheduler", "tls", "s3")
"""The local services of fixed meaning; a worker is named after its container, which must not be one of these."""
_LOCAL_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")

# Each type the local stack realises, and what realises it; every other custom type is "cloud only".
REALISED = {
    resource_types.RDS_INSTANCE: "postgres: a PostgreSQL cluster (engine major, master user)",
    resource_types.RDS_PARAMETER_GROUP: "postgres: postgresql.conf (the parameters PostgreSQL knows)",
    resource_types.POSTGRESQL_ROLE: "postgres: CREATE/ALTER ROLE as the master user",
    resource_types.POSTGRESQL_DATABASE: "postgres: CREATE DATABASE as the master user",
    resource_types.POSTGRESQL_GRANT: "postgres: REVOKE/GRANT as the master user",
    resource_types.POSTGRESQL_DEFAULT_PRIVILEGES: "postgres: ALTER DEFAULT PRIVILEGES as the master user",
    resource_types.PROVIDER_POSTGRESQL: "postgres: the master user's connection",
    resource_types.RDS_PROXY: "pgbouncer: TLS required, idle client timeout",
    resource_types.RDS_PROXY_DEFAULT_TARGET_GROUP: "pgbouncer: pool size, borrow timeout",
    resource_types.RDS_PROXY_TARGET: "pgbouncer: its one database",
    resource_types.ECS_TASK_DEFINITION: "api or worker: command, environment, secrets (port, health check)",
    resource_types.ECS_SERVICE: "api behind the load balancer, a worker otherwise: one supervised process",
    resource_types.SECRETSMANAGER_SECRET: "secrets.json: the value the task and the pooler read",
    resource_types.SECRETSMANAGER_SECRET_VERSION: "secrets.json: keys of the value, generated locally",
    RANDOM: "secrets.json: a value generated once",
    resource_types.LB_LOAD_BALANCER: "tls: nginx",
    resource_types.LB_LISTENER: "tls: nginx server (redirect, TLS versions of the SSL policy; the release test "
    "listener is the local release's own test port)",
    resource_types.LB_LISTENER_RULE: "tls: nginx location (fixed responses; forwarding rules are the upstream)",
    resource_types.LB_TARGET_GROUP: "tls: nginx upstream (health check thresholds; blue's and green's are one)",
    resource_types.ACM_CERTIFICATE: "tls: a certificate from the local CA",
    resource_types.ACM_CERTIFICATE_VALIDATION: "tls: signed by the local CA at once",
    resource_types.ROUTE53_RECORD: "tls: the name on the local certificate",
    resource_types.S3_BUCKET: "s3: a moto bucket of the same name",
    resource_types.S3_BUCKET_VERSIONING: "s3: put_bucket_versioning",
    resource_types.S3_BUCKET_SERVER_SIDE_ENCRYPTION_CONFIGURATION: ("s3: put_bucket_encryption"),
    resource_types.S3_BUCKET_PUBLIC_ACCESS_BLOCK: "s3: put_public_access_block",
    resource_types.S3_BUCKET_LIFECYCLE_CONFIGURATION: "s3: put_bucket_lifecycle_configuration",
    resource_types.S3_BUCKET_POLICY: "s3: put_bucket_policy",
    resource_types.S3_BUCKET_OWNERSHIP_CONTROLS: "s3: put_bucket_ownership_controls",
    REPLICATION_GROUP: "cache: redis-server (port, TLS with the local CA, its users and parameter group)",
    resource_types.ELASTICACHE_PARAMETER_GROUP: "cache: redis.conf (the parameters Redis knows)",
    resource_types.ELASTICACHE_USER: "cache: an ACL user with its access string",
    resource_types.ELASTICACHE_USER_GROUP: "cache: the users the server accepts",
    WEB_ACL: "tls: nginx limit_req per client address for the rate rule (other rules cloud only)",
    SCHEDULE: "scheduler: the local timer runs its command override with its task's environment",
    resource_types.SCHEDULER_SCHEDULE_GROUP: "scheduler: the local timer",
    **identity_mapping.REALISED,
    METRIC_ALARM: "prometheus: an alerting rule, same threshold and periods, where a local series exists",
}


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
        if r.custom and r.type not in REALISED and not r.type.startswith(resource_types.PROVIDER_AWS)
    )
    cloud_only.update(r.type for r in resources if r.type == resource_types.PROVIDER_AWS)
    realised = collections.Counter(r.type for r in resources if r.type in REALISED)
    api, workers = _ecs(by_type)
    tasks = {task["arn"]: task for task in (api, *workers)}
    firewall = _firewall(by_type)
    try:
        identity = identity_mapping.identity(by_type, str(recording.exports.get("region") or "us-east-1"))
    except identity_mapping.IdentityMappingError as error:
        raise MappingError(str(error)) from None
    for rule in firewall["cloud_only_rules"] if firewall else ():
        cloud_only[f"{WEB_ACL} rule {rule}"] += 1
    alarms = alert_rules.rules(by_type.get(METRIC_ALARM, []))
    for alarm in alarms["cloud_only"]:
        cloud_only[f"{METRIC_ALARM} {alarm['alarm']}"] += 1
        realised[METRIC_ALARM] -= 1
    return {
        "database": _database(by_type),
        "objects": _objects(by_type, tokens),
        "pooler": _pooler(by_type),
        "api": api,
        "workers": workers,
        "cache": _cache(by_type, tokens),
        "firewall": firewall,
        "schedules": _schedules(by_type, tasks),
        "alarms": alarms,
        "load_balancer": mapping_edge.load_balancer(by_type),
        "certificate": mapping_edge.certificate(by_type),
        "buckets": _buckets(by_type),
        "secrets": _secrets(by_type, tokens),
        "identity": identity,
        "randoms": {r.urn: int(r.inputs.get("length", 32)) for r in by_type[RANDOM]},
        "realised": dict(sorted((+realised).items())),
        "cloud_only": dict(sorted(cloud_only.items())),
        "exports": _plain(recording.exports),
    }


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _database(by_type: dict[str, list[Any]]) -> dict[str, Any]:
    instance = only(by_type, resource_types.RDS_INSTANCE)
    inputs = instance.inputs
    if inputs.get("engine") != "postgres":
        raise MappingError(f"{instance.urn}: engine {inputs.get('engine')!r}; the local stack runs PostgreSQL only")
    parameters: dict[str, str] = {}
    group_name = inputs.get("parameterGroupName")
    for group in by_type.get(resource_types.RDS_PARAMETER_GROUP, []):
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
        resource_types.POSTGRESQL_ROLE,
        resource_types.POSTGRESQL_DATABASE,
        resource_types.POSTGRESQL_GRANT,
        resource_types.POSTGRESQL_DEFAULT_PRIVILEGES,
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
    proxy = only(by_type, resource_types.RDS_PROXY)
    group = only(by_type, resource_types.RDS_PROXY_DEFAULT_TARGET_GROUP)
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


_BUCKET_PARTS = {
    resource_types.S3_BUCKET_VERSIONING: "versioning",
    resource_types.S3_BUCKET_SERVER_SIDE_ENCRYPTION_CONFIGURATION: "encryption",
    resource_types.S3_BUCKET_PUBLIC_ACCESS_BLOCK: "public_access_block",
    resource_types.S3_BUCKET_LIFECYCLE_CONFIGURATION: "lifecycle",
    resource_types.S3_BUCKET_POLICY: "policy",
    resource_types.S3_BUCKET_OWNERSHIP_CONTROLS: "ownership",
}


def _buckets(by_type: dict[str, list[Any]]) -> list[dict[str, Any]]:
    buckets = {r.id: {"urn": r.urn, "name": r.id} for r in by_type.get(resource_types.S3_BUCKET, [])}
    for token, part in _BUCKET_PARTS.items():
        for r in by_type.get(token, []):
            name = r.inputs.get("bucket")
            if name not in buckets:
                raise MappingError(f"{r.urn}: bucket {name!r} is not one of the program's buckets")
            buckets[name][part] = {k: v for k, v in r.inputs.items() if k != "bucket"}
    return [buckets[name] for name in sorted(buckets)]


def _secrets(by_type: dict[str, list[Any]], tokens) -> dict[str, Any]:
    """Each secret's ARN with its value's template (JSON keys with generated values as tokens)."""
    ids = {r.id: r.state.get("arn") for r in by_type.get(resource_types.SECRETSMANAGER_SECRET, [])}
    values = {}
    for version in by_type.get(resource_types.SECRETSMANAGER_SECRET_VERSION, []):
        arn = ids.get(version.inputs.get("secretId"))
        if arn is not None:
            values[arn] = tokens(version.inputs.get("secretString", ""))
    return values


_ELASTICACHE_ONLY = ("reserved-memory", "reserved-memory-percent", "cluster-enabled", "close-on-replica-write")
"""Parameters of ElastiCache itself that Redis does not know."""
_CACHE_PARAMETER = re.compile(r"[a-z][a-z0-9-]*")
_CACHE_USER = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,119}")
_ACL_RULE = re.compile(r"(?!(?i:nopass|resetpass|reset)$)[^\s\"'\\<>#!][^\s\"'\\]*")
"""One rule of an access string; passwords (>, <, #, !, nopass, resetpass) come from the authentication mode,
never from it, and no quote or backslash reaches redis.conf."""
_CONTENT_TYPES = {"APPLICATION_JSON": "application/json", "TEXT_PLAIN": "text/plain", "TEXT_HTML": "text/html"}
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")


def _cache(by_type: dict[str, list[Any]], tokens) -> dict[str, Any] | None:
    """The replication group: its port, TLS, the parameter group's values and the users of its user groups."""
    groups = by_type.get(REPLICATION_GROUP, [])
    if not groups:
        return None
    if len(groups) > 1:
        raise MappingError(f"the local stack realises one cache; the plan declares {len(groups)} replication groups")
    group = groups[0]
    inputs = group.inputs
    parameters: dict[str, str] = {}
    reserved = str(CACHE_RESERVED_MEMORY_PERCENT)
    for params in by_type.get(resource_types.ELASTICACHE_PARAMETER_GROUP, []):
        if params.state.get("name") == inputs.get("parameterGroupName"):
            for item in params.inputs.get("parameters", []):
                name, value = str(item["name"]), str(item["value"])
                if not _CACHE_PARAMETER.fullmatch(name) or not plain_text(value):
                    raise MappingError(f"{params.urn}: parameter {name!r} has a name or value Redis cannot take")
                if name == "reserved-memory-percent":
                    reserved = value
                if name not in _ELASTICACHE_ONLY:
                    parameters[name] = value
    parameters["maxmemory"] = _maxmemory(group, reserved)
    user_groups = {g.inputs.get("userGroupId"): g for g in by_type.get(resource_types.ELASTICACHE_USER_GROUP, [])}
    users_by_id = {u.inputs.get("userId"): u for u in by_type.get(resource_types.ELASTICACHE_USER, [])}
    users = []
    for group_id in inputs.get("userGroupIds", []):
        for user_id in user_groups[group_id].inputs.get("userIds", []) if group_id in user_groups else []:
            user = users_by_id.get(user_id)
            if user is None:
                raise MappingError(f"{user_groups[group_id].urn}: user {user_id!r} is not one of the program's")
            name, access = user.inputs.get("userName", ""), user.inputs.get("accessString", "")
            rules = access.split()
            if not _CACHE_USER.fullmatch(name) or not all(_ACL_RULE.fullmatch(rule) for rule in rules):
                raise MappingError(f"{user.urn}: user {name!r} or its access string cannot be an ACL rule")
            mode = user.inputs.get("authenticationMode") or {}
            users.append(
                {
                    "urn": user.urn,
                    "id": user_id,
                    "name": name,
                    "access": " ".join(rules),
                    "auth": mode.get("type", "password"),
                    "passwords": tokens(mode.get("passwords") or user.inputs.get("passwords") or []),
                }
            )
    return {
        "urn": group.urn,
        "id": group.id,
        "engine": inputs.get("engine", "redis"),
        "engine_version": str(inputs.get("engineVersion", "")),
        "port": int(inputs.get("port", 6379)),
        "tls": bool(inputs.get("transitEncryptionEnabled", False)),
        "auth_token": tokens(inputs.get("authToken") or ""),
        "parameters": parameters,
        "users": users,
    }


def _maxmemory(group: Any, reserved_percent: str) -> str:
    """ElastiCache bounds the data set by the node's memory less its reserved share; redis-server is told the same
    bound, so the local cache evicts where the node would."""
    node = group.inputs.get("nodeType")
    memory = CACHE_NODE_MEMORY_MIB.get(node)
    if memory is None:
        raise MappingError(
            f"{group.urn}: node type {node!r} has no known memory to bound the local cache by; known: "
            + ", ".join(CACHE_NODE_MEMORY_MIB)
        )
    if not reserved_percent.isdigit() or not 0 <= int(reserved_percent) < 100:
        raise MappingError(f"{group.urn}: reserved-memory-percent {reserved_percent!r} is not 0 to 99")
    return f"{memory * (100 - int(reserved_percent)) // 100}mb"


def _firewall(by_type: dict[str, list[Any]]) -> dict[str, Any] | None:
    """The web ACL's per-client rate rule (the one rule nginx can enforce) and the names of the rules it cannot."""
    acls = by_type.get(WEB_ACL, [])
    if not acls:
        return None
    if len(acls) > 1:
        raise MappingError(f"the local load balancer takes one web ACL; the plan declares {len(acls)}")
    acl = acls[0]
    bodies = {b["key"]: b for b in acl.inputs.get("customResponseBodies", [])}
    rate, cloud_only = None, []
    for rule in sorted(acl.inputs.get("rules", []), key=lambda r: r.get("priority", 0)):
        statement = rule.get("statement", {})
        rated = statement.get("rateBasedStatement")
        action = rule.get("action", {})
        per_ip = rated and rated.get("aggregateKeyType", "IP") == "IP" and set(rated) <= {
            "limit", "aggregateKeyType", "evaluationWindowSec"
        }  # fmt: skip
        if rate is not None or not per_ip or not ({"block", "count"} & set(action)):
            cloud_only.append(str(rule.get("name")))
            continue
        custom = (action.get("block") or {}).get("customResponse") or {}
        status = int(custom.get("responseCode", 403))
        body = bodies.get(custom.get("customResponseBodyKey"), {})
        headers = {h["name"]: str(h["value"]) for h in custom.get("responseHeaders", [])}
        if not 400 <= status <= 599 or not all(_HEADER_NAME.fullmatch(k) and plain_text(v) for k, v in headers.items()):
            raise MappingError(f"{acl.urn}: rule {rule.get('name')!r} answers with what nginx cannot send")
        rate = {
            "rule": str(rule.get("name")),
            "mode": "block" if "block" in action else "count",
            "limit": int(rated["limit"]),
            "window": int(rated.get("evaluationWindowSec", 300)),
            "status": status,
            "headers": headers,
            "content_type": _CONTENT_TYPES.get(body.get("contentType", "TEXT_PLAIN"), "text/plain"),
            "body": body.get("content", ""),
        }
    return {"urn": acl.urn, "rate": rate, "cloud_only_rules": cloud_only}


def _schedules(by_type: dict[str, list[Any]], task_services: dict[str, dict]) -> list[dict[str, Any]]:
    """Each schedule whose target runs an ECS task of the program: its expression, zone and command override."""
    from cli.local.schedule_times import ExpressionError, check

    schedules = []
    for r in by_type.get(SCHEDULE, []):
        inputs = r.inputs
        parent = r.parent.rpartition("::")[2]
        name = r.name.removeprefix(f"{parent}-") if parent else r.name
        target = inputs.get("target") or {}
        ecs = target.get("ecsParameters") or {}
        task = task_services.get(ecs.get("taskDefinitionArn") or "")
        if task is None:
            raise MappingError(f"{r.urn}: the local timer runs ECS tasks of the program only")
        overrides = json.loads(target.get("input") or "{}").get("containerOverrides", [])
        override = next((o for o in overrides if o.get("name") == task["container"]), {})
        expression = inputs.get("scheduleExpression", "")
        zone = inputs.get("scheduleExpressionTimezone") or "UTC"
        try:
            check(expression, zone)
        except ExpressionError as error:
            raise MappingError(f"{r.urn}: {error}") from None
        schedules.append(
            {
                "urn": r.urn,
                "name": name,
                "expression": expression,
                "time_zone": zone,
                "enabled": inputs.get("state", "ENABLED") == "ENABLED",
                "service": task["service"],
                # An override replaces the container's command, not its entry point (as ECS RunTask does).
                "command": [*(task["entry_point"] or []), *(override.get("command") or task["command"] or [])] or None,
                "environment": {e["name"]: e["value"] for e in override.get("environment", [])},
            }
        )
    return sorted(schedules, key=lambda s: s["name"])


def _container(task: Any) -> dict[str, Any]:
    """The one essential container of a task definition, as the local process runs it."""
    containers = json.loads(task.inputs["containerDefinitions"])
    essential = [c for c in containers if c.get("essential", True)]
    if len(essential) != 1:
        raise MappingError(f"{task.urn}: the local stack runs one essential container; found {len(essential)}")
    container = essential[0]
    return {
        "urn": task.urn,
        "arn": task.state.get("arn"),
        "container": container.get("name"),
        "command": container.get("command"),
        "entry_point": container.get("entryPoint"),
        "environment": {e["name"]: e["value"] for e in container.get("environment", [])},
        "secrets": {s["name"]: s["valueFrom"] for s in container.get("secrets", [])},
        "stop_timeout": int(container.get("stopTimeout", 30)),
        "raw": container,
    }


def _ecs(by_type: dict[str, list[Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The API (the service behind the load balancer) and the workers (every other service), each with its task."""
    tasks = by_type.get(TASK_DEFINITION, [])
    services = by_type.get(ECS_SERVICE, [])
    by_arn = {t.state.get("arn"): t for t in tasks}
    fronted = [s for s in services if s.inputs.get("loadBalancers")]
    if not services and len(tasks) == 1:
        api_task, api_service, others = tasks[0], None, []
    elif len(fronted) == 1 and fronted[0].inputs.get("taskDefinition") in by_arn:
        api_service = fronted[0]
        api_task = by_arn[api_service.inputs["taskDefinition"]]
        others = [s for s in services if s is not api_service]
    else:
        raise MappingError(
            f"the local stack runs one service behind the load balancer; the plan declares {len(fronted)}"
        )
    api = _container(api_task)
    raw = api.pop("raw")
    ports = raw.get("portMappings", [])
    if len(ports) != 1:
        raise MappingError(f"{api_task.urn}: the local API listens on one port; found {len(ports)} port mappings")
    api.update(
        service="api",
        port=int(ports[0]["containerPort"]),
        health_check=raw.get("healthCheck"),
        desired_count=int(api_service.inputs.get("desiredCount", 1)) if api_service else 1,
    )
    workers = []
    for service in others:
        task = by_arn.get(service.inputs.get("taskDefinition"))
        if task is None:
            raise MappingError(f"{service.urn}: its task definition is not one of the program's")
        worker = _container(task)
        raw = worker.pop("raw")
        if raw.get("portMappings"):
            raise MappingError(f"{service.urn}: a service with ports needs a load balancer to be realised locally")
        if not _LOCAL_NAME.fullmatch(worker["container"] or "") or worker["container"] in RESERVED_NAMES:
            raise MappingError(f"{task.urn}: container name {worker['container']!r} cannot name a local service")
        worker.update(service=worker["container"], desired_count=int(service.inputs.get("desiredCount", 1)))
        workers.append(worker)
    return api, sorted(workers, key=lambda w: w["service"])
