"""One realiser per concern: each turns its part of the plan's local spec into the service that runs it here."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.local import adapters, alert_rules, scheduler, tls
from cli.local.api import INHERITED, image_command
from cli.local.cache import CacheService
from cli.local.identity_mapping import local_names
from cli.local.postgres import Cluster, Pooler
from cli.local.prometheus import PrometheusService, interval_seconds
from cli.local.services import (
    ApiService,
    BucketService,
    DatabaseService,
    PoolerService,
    SchedulerService,
    Service,
    TaskService,
    TlsService,
)

DEFAULT_MAX_CONNECTIONS = 100
_RDS_ONLY = ("rds.", "rdsutils.", "pgaudit.", "shared_preload_libraries")
"""Parameters of RDS's own extensions or libraries this machine does not have."""


@dataclass
class Realisation:
    """What every realiser reads: where the stack lives, the plan's spec, its ports, its secrets, what was applied."""

    root: Path
    project_dir: Path
    spec: dict[str, Any]
    ports: dict[str, int]
    keys: dict[str, Any]
    applied: dict[str, Any]
    files: tls.TlsFiles = field(init=False)

    def __post_init__(self) -> None:
        self.files = tls.TlsFiles(self.root / "tls")

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def app_dir(self) -> Path:
        return self.project_dir / "app_image"

    def pidfile(self, name: str) -> Path:
        return self.root / "run" / f"{name}.pid"

    def credentials(self) -> dict[str, Any]:
        """The pooled database login the program's secret declares."""
        pool = self.spec["pooler"]
        return json.loads(adapters.fill(self.spec["secrets"][pool["credentials_secret"]], self.keys["randoms"]))


def realise(r: Realisation) -> list[Service]:
    """The services in start order: database, pooler, cache, the tasks (API, workers, scheduler), the edge, buckets."""
    credentials = r.credentials()
    database, cluster = realise_database(r, credentials)
    cache_passwords = cache_passwords_of(r)
    environment = task_environment(r, credentials, cache_passwords)
    tasks: list[ApiService | TaskService] = [realise_api(r, environment), *realise_workers(r, environment)]
    return [
        database,
        realise_pooler(r, cluster, credentials),
        *realise_cache(r, cache_passwords),
        *tasks,
        *realise_scheduler(r, tasks),
        realise_edge(r),
        realise_buckets(r),
        realise_prometheus(r),
    ]


def realise_database(r: Realisation, credentials: dict[str, Any]) -> tuple[DatabaseService, Cluster]:
    """The RDS instance as a PostgreSQL cluster; the roles and the database come from the program's objects."""
    app_database = credentials.get("dbname") or r.spec["exports"].get("database_name", "")
    cluster = Cluster(
        base=r.root / "postgres",
        port=r.ports["postgres"],
        superuser_password=r.keys["postgres_password"],
        app_database=app_database,
    )
    conf, hba = postgres_config(r.spec["database"]["parameters"])
    service = DatabaseService(
        "postgres", [r.ports["postgres"]], cluster.log, cluster=cluster, conf=conf, hba=hba,
        tls=(r.files.server_cert, r.files.server_key),
    )  # fmt: skip
    cluster.prepare = service.configure
    return service, cluster


def realise_pooler(r: Realisation, cluster: Cluster, credentials: dict[str, Any]) -> PoolerService:
    """The RDS Proxy as PgBouncer, its pool sized as the proxy's share of the cluster's connections."""
    pool = r.spec["pooler"]
    parameters = r.spec["database"]["parameters"]
    max_connections = int(parameters.get("max_connections", DEFAULT_MAX_CONNECTIONS))
    pooler = Pooler(
        base=r.root / "pgbouncer",
        port=r.ports["pgbouncer"],
        cluster=cluster,
        pool_size=max(1, max_connections * pool["max_connections_percent"] // 100),
        query_wait_timeout=pool["borrow_timeout"],
        user=credentials["username"],
        password=credentials["password"],
        database=cluster.app_database,
        client_idle_timeout=pool["idle_client_timeout"],
        tls=(r.files.server_cert, r.files.server_key, r.files.ca_cert) if pool["require_tls"] else None,
    )
    return PoolerService("pgbouncer", [r.ports["pgbouncer"]], pooler.log, pooler=pooler)


def cache_passwords_of(r: Realisation) -> dict[str, str]:
    """Each cache user's password by user name: its declared one, or the stack's own for an IAM user."""
    cache = r.spec["cache"]
    if not cache:
        return {}
    passwords = {}
    for user in cache["users"]:
        if user["auth"] == "iam":
            passwords[user["name"]] = r.keys["cache_passwords"][user["id"]]
        elif user["passwords"]:
            passwords[user["name"]] = adapters.fill(user["passwords"][0], r.keys["randoms"])
    if not cache["users"] and cache["auth_token"]:
        passwords["default"] = adapters.fill(cache["auth_token"], r.keys["randoms"])
    return passwords


def task_environment(
    r: Realisation, credentials: dict[str, Any], cache_passwords: dict[str, str]
) -> Callable[[dict[str, Any]], dict[str, str]]:
    """What a task's container gets: its environment and secrets, through the adapters."""
    spec, ports, files = r.spec, r.ports, r.files

    def environment(task: dict[str, Any]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in INHERITED or k.startswith("LC_")}
        # The image's `python` is this interpreter, which has the image's requirements installed.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        env.update(task["environment"])
        for name, value_from in task["secrets"].items():
            env[name] = adapters.secret_value(value_from, spec["secrets"], r.keys["randoms"])
        if "DATABASE_URL" in env:
            env["DATABASE_URL"] = adapters.database_url(
                env["DATABASE_URL"], port=ports["pgbouncer"], ca_file=files.ca_cert
            )
        env = adapters.iam_database_auth(env, credentials["password"])
        if spec["cache"] and "CACHE_URL" in env:
            env["CACHE_URL"] = adapters.cache_url(
                env["CACHE_URL"], declared_port=spec["cache"]["port"], port=ports["cache"]
            )
            password = cache_passwords.get(env.get("CACHE_USERNAME") or "default", "")
            env = adapters.iam_cache_auth(env, password, files.ca_cert)
        identity = spec.get("identity")
        env = adapters.identity_environment(env, identity, local_names(identity), ports["s3"], files.ca_cert)
        env = adapters.files_endpoint(env, ports["s3"], files.ca_cert)
        return adapters.cloud_metrics(env)

    return environment


def realise_api(r: Realisation, environment: Callable[[dict[str, Any]], dict[str, str]]) -> ApiService:
    """The load-balanced ECS service as the image's own command on this machine."""
    from stacks.content_tag import content_tag

    api = r.spec["api"]
    slot, kept = live_release(r)
    env = adapters.task_port(environment(api), api["port"], r.ports[slot])
    if kept is not None:  # the live release's sources, which may be older than the project's
        env = release_version(env, kept.parent.name)
    command = [*(api.get("entry_point") or []), *(api.get("command") or [])] or None
    return ApiService(
        "api",
        [r.ports[slot]],
        r.logs / "api.log",
        pidfile=r.pidfile(slot),
        marker="groundwork_api",
        app_dir=kept if kept is not None else r.app_dir,
        env=env,
        command=command,
        release=content_tag(r.app_dir),
    )


API_SLOTS = ("api", "api_green")
"""The two ports the API alternates between, one release to the next (blue/green, see cli/local/release_flow.py)."""
RELEASE_FOLLOWERS = ("prometheus", "scheduler")
"""Services whose configuration names the live API's port or sources, so they follow it after a release."""


def live_slot(applied: dict[str, Any]) -> str:
    """The port slot the live API listens on: the one its last release moved it to."""
    slot = (applied.get("api_release") or {}).get("slot")
    return slot if slot in API_SLOTS else API_SLOTS[0]


def test_slot(applied: dict[str, Any]) -> str:
    """The other slot: where the next release starts, and where nginx's test port points."""
    return next(slot for slot in API_SLOTS if slot != live_slot(applied))


def release_version(env: dict[str, str], tag: str) -> dict[str, str]:
    """The environment of a release made from the sources tagged `tag`: the version the app reports is the tag, as
    the program's image tag is in the cloud (the project's sources may have moved on since)."""
    return {**env, "APP_VERSION": tag} if "APP_VERSION" in env else env


def live_release(r: Realisation) -> tuple[str, Path | None]:
    """The port slot the live API listens on, and the kept copy of the sources it runs from (None before any)."""
    tag = (r.applied.get("api_release") or {}).get("tag")
    kept = r.root / "releases" / str(tag) / "app_image" if tag else None
    return live_slot(r.applied), kept if kept is not None and kept.is_dir() else None


def realise_workers(r: Realisation, environment: Callable[[dict[str, Any]], dict[str, str]]) -> list[TaskService]:
    """Every ECS service without a load balancer, as one process each."""
    workers: list[TaskService] = []
    for worker in r.spec["workers"]:
        argv = [*(worker["entry_point"] or []), *(worker["command"] or [])] or image_command(r.app_dir)
        workers.append(
            TaskService(
                worker["service"],
                [],
                r.logs / f"{worker['service']}.log",
                pidfile=r.pidfile(worker["service"]),
                marker=" ".join(argv),
                app_dir=r.app_dir,
                env=adapters.worker_metrics(
                    environment(worker), r.ports[metrics_port_name(worker["service"])], interval_seconds()
                ),
                command=argv,
            )
        )
    return workers


def metrics_port_name(worker: str) -> str:
    """The name under which the stack keeps the port of a worker's /metrics."""
    return f"{worker}-metrics"


def realise_prometheus(r: Realisation) -> PrometheusService:
    """CloudWatch's metrics and alarms as Prometheus: it scrapes the API and the workers and evaluates the alarms
    that have a local series as alerting rules (the others are cloud only, each with its reason)."""
    workers = [f"127.0.0.1:{r.ports[metrics_port_name(w['service'])]}" for w in r.spec["workers"]]
    return PrometheusService(
        "prometheus",
        [r.ports["prometheus"]],
        r.logs / "prometheus.log",
        pidfile=r.pidfile("prometheus"),
        marker=f"--config.file={r.root / 'prometheus' / 'prometheus.yml'}",
        base=r.root / "prometheus",
        targets={alert_rules.API_JOB: [f"127.0.0.1:{r.ports[live_slot(r.applied)]}"], alert_rules.WORKER_JOB: workers},
        rules=r.spec["alarms"]["rules"],
        interval=interval_seconds(),
    )


def realise_scheduler(r: Realisation, tasks: list[ApiService | TaskService]) -> list[Service]:
    """The EventBridge schedules as one timer process that runs their target tasks."""
    if not r.spec["schedules"]:
        return []
    targets = {job["service"] for job in r.spec["schedules"]}
    return [
        SchedulerService(
            "scheduler",
            [],
            r.logs / "scheduler.log",
            pidfile=r.pidfile("scheduler"),
            marker=f"{scheduler.MARKER} --root {r.root}",
            root=r.root,
            schedules=r.spec["schedules"],
            tasks={
                t.name: {"env": t.env, "app_dir": str(t.app_dir), "argv": t.argv()} for t in tasks if t.name in targets
            },
        )
    ]


def realise_cache(r: Realisation, passwords: dict[str, str]) -> list[Service]:
    """The ElastiCache replication group as redis-server over TLS with the declared users."""
    if not r.spec["cache"]:
        return []
    return [
        CacheService(
            "cache",
            [r.ports["cache"]],
            r.root / "cache" / "redis.log",
            base=r.root / "cache",
            cache=r.spec["cache"],
            passwords=passwords,
            files=r.files,
        )
    ]


def realise_edge(r: Realisation) -> TlsService:
    """The load balancer, its certificate and the web ACL's rate rule, as nginx."""
    return TlsService(
        "tls",
        [r.ports["http"], r.ports["https"]],
        r.root / "nginx" / "error.log",
        base=r.root / "nginx",
        files=r.files,
        upstream_port=r.ports[live_slot(r.applied)],
        test_port=r.ports["release_test"],
        test_upstream_port=r.ports[test_slot(r.applied)],
        load_balancer=r.spec["load_balancer"],
        rate_limit=(r.spec["firewall"] or {}).get("rate"),
        names=tuple(r.spec["certificate"]["names"]),
        redirect_host=adapters.redirect_host(),
    )


def realise_buckets(r: Realisation) -> BucketService:
    """The S3 buckets and the user pool on moto's server over TLS; a bucket whose declaration changed is applied
    again, and the pool whenever the server starts or its declaration changed."""
    applied = r.applied.get("s3_buckets", {})
    buckets = BucketService(
        "s3",
        [r.ports["s3"]],
        r.logs / "s3.log",
        pidfile=r.pidfile("s3"),
        marker=f"cli.local.s3server -H 127.0.0.1 -p {r.ports['s3']}",
        buckets=r.spec["buckets"],
        region=r.spec["exports"].get("region", "us-east-1"),
        tls=r.files,
        identity=r.spec.get("identity"),
    )
    buckets.changed = {n for n, fp in buckets.fingerprints().items() if applied.get(n) != fp}
    return buckets


def postgres_config(parameters: dict[str, str]) -> tuple[str, str]:
    """groundwork.conf from the parameter group (and TLS), and pg_hba.conf (TLS only when rds.force_ssl is 1)."""
    lines = [
        "ssl = on",
        "ssl_cert_file = 'server.crt'",
        "ssl_key_file = 'server.key'",
        "ssl_min_protocol_version = 'TLSv1.2'",
        # Crash recovery syncs the data directory with one syncfs() instead of an fsync per file (seconds here).
        "recovery_init_sync_method = 'syncfs'",
    ]
    for name, value in sorted(parameters.items()):
        if name.startswith(_RDS_ONLY) or not re.fullmatch(r"[a-z_][a-z0-9_.]*", name):
            continue
        lines.append(f"{name} = '{value.replace(chr(39), chr(39) * 2)}'")
    force_ssl = parameters.get("rds.force_ssl") == "1"
    kind = "hostssl" if force_ssl else "host"
    hba = f"local all all scram-sha-256\n{kind} all all 127.0.0.1/32 scram-sha-256\n"
    # The bootstrap superuser's base backups of the local WAL archive (cli/local/wal_archive.py).
    hba += f"{kind} replication postgres 127.0.0.1/32 scram-sha-256\n"
    if force_ssl:
        hba += "hostnossl all all 127.0.0.1/32 reject\n"
    return "\n".join(lines) + "\n", hba
