"""Component argument validation and the pure helpers the components are built from."""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

import infra
from infra import (
    bastion,
    cache,
    certificate,
    dashboards,
    database,
    database_objects,
    dns,
    firewall,
    grafana,
    identity,
    loadbalancer,
    network,
    panels,
    pooling,
    registry,
    rotation,
    schedules,
    service,
    storage,
    task,
    worker,
)
from tests.mocks import recorded

SUBNETS = ["subnet-a", "subnet-b"]


def _database(**kw: Any) -> Any:
    base = dict(subnet_ids=SUBNETS, security_group_id="sg")
    return database.Database("d", database.DatabaseArgs(**{**base, **kw}))


def _pooling(**kw: Any) -> Any:
    base = dict(
        subnet_ids=SUBNETS,
        security_group_id="sg",
        instance_identifier="db",
        credentials_secret_arn="arn",
        username="app",
        database_name="app",
    )
    return pooling.Pooling("p", pooling.PoolingArgs(**{**base, **kw}))


def _service(**kw: Any) -> Any:
    base = dict(
        region="eu-west-1",
        subnet_ids=SUBNETS,
        security_group_id="sg",
        target_group_arn="tg",
        request_count_labels=["a/b"],
        image="img",
        repository_arn="repo",
        app_version="v1",
        database_url="postgresql://app@proxy:5432/app",
        database_connect_arn="arn:aws:rds-db:eu-west-1:1:dbuser:prx-1/app",
        bucket_arn="b",
        token_environment={
            "JWT_JWKS_URL": "https://issuer.example/.well-known/jwks.json",
            "JWT_ISSUER": "https://issuer.example",
            "JWT_AUDIENCE": "app-client",
        },
    )
    return service.Service("s", service.ServiceArgs(**{**base, **kw}))


def _lb(**kw: Any) -> Any:
    base = dict(
        vpc_id="v", subnet_ids=SUBNETS, security_group_id="sg", certificate_arn="c", host_name="api.example.com",
        log_bucket="l",
    )  # fmt: skip
    return loadbalancer.LoadBalancer("l", loadbalancer.LoadBalancerArgs(**{**base, **kw}))


def _monitoring(**kw: Any) -> Any:
    base = dict(
        region="eu-west-1",
        account_id="123456789012",
        load_balancer="a",
        target_groups=["t"],
        cluster_name="c",
        service_name="s",
        db_instance="d",
        proxy_name="p",
        db_storage_gb=20,
    )
    return dashboards.Monitoring("m", dashboards.MonitoringArgs(**{**base, **kw}))


INVALID: list[tuple[str, Callable[[], Any], str]] = [
    ("zone_count", lambda: network.Network("n", network.NetworkArgs(zone_count=4)), "2 or 3"),
    ("cidr", lambda: network.Network("n", network.NetworkArgs(cidr="10.0.0.0/8")), "/16 to /20"),
    ("app_port", lambda: network.Network("n", network.NetworkArgs(app_port=80)), "1024 to 65535"),
    ("engine_version", lambda: _database(engine_version="12"), "16, 17"),
    ("instance_class", lambda: _database(instance_class="m5.large"), "RDS class"),
    ("max_allocated_storage_gb", lambda: _database(allocated_storage_gb=100, max_allocated_storage_gb=50), "100"),
    ("backup_retention_days", lambda: _database(backup_retention_days=0), "1 to 35"),
    ("master_username", lambda: _database(master_username="postgres"), "other than postgres"),
    ("final_snapshot", lambda: _database(final_snapshot=False), "True when protect"),
    ("performance_insights_retention_days", lambda: _database(performance_insights_retention_days=30), "731"),
    ("subnet_ids", lambda: _database(subnet_ids=["one"]), "two or more"),
    ("max_idle_connections_percent", lambda: _pooling(max_idle_connections_percent=95), "max_connections"),
    ("borrow_timeout_seconds", lambda: _pooling(borrow_timeout_seconds=4000), "0 to 3600"),
    ("memory", lambda: _service(cpu=256, memory=4096), "for cpu 256"),
    ("desired_count", lambda: _service(desired_count=9, max_count=4), "max_count"),
    ("user", lambda: _service(user="0:0"), "non-root"),
    ("log_retention_days", lambda: _service(log_retention_days=10), "14"),
    ("token_environment", lambda: _service(token_environment={"JWT_ISSUER": "https://i"}), "JWT_JWKS_URL"),
    ("token_environment", lambda: _service(token_environment={"JWT_SECRET": "x" * 32}), "JWT_ISSUER"),
    ("ssl_policy", lambda: _lb(ssl_policy="ELBSecurityPolicy-2016-08"), "TLS13"),
    ("desync_mitigation_mode", lambda: _lb(desync_mitigation_mode="monitor"), "strictest"),
    (
        "force_destroy",
        lambda: storage.Storage("s", storage.StorageArgs(region="eu-west-1", account_id="1", force_destroy=True)),
        "protect",
    ),
    (
        "key_algorithm",
        lambda: certificate.Certificate(
            "c", certificate.CertificateArgs(domain_name="a.example.com", zone_id="z", key_algorithm="RSA_1024")
        ),
        "RSA_2048",
    ),
    ("domain", lambda: dns.HostedZone("z", dns.HostedZoneArgs(domain="Not A Domain")), "domain"),
    (
        "image_tag",
        lambda: registry.Registry("r", registry.RegistryArgs(context_dir=".", image_tag="bad tag!")),
        "Docker tag",
    ),
    (
        "platform",
        lambda: registry.Registry("r", registry.RegistryArgs(context_dir=".", image_tag="t", platform="windows/amd64")),
        "linux/amd64",
    ),
    ("latency_p95_ms", lambda: _monitoring(latency_p95_ms=1), "10 or more"),
    (
        "rotation_days",
        lambda: rotation.DatabaseCredentialsRotation(
            "r",
            rotation.DatabaseCredentialsRotationArgs(
                region="eu-west-1", secret_arn="s", subnet_ids=SUBNETS, security_group_id="g", rotation_days=120
            ),
        ),
        "1 to 90",
    ),
    (
        "log_retention_days",
        lambda: rotation.DatabaseCredentialsRotation(
            "r",
            rotation.DatabaseCredentialsRotationArgs(
                region="eu-west-1", secret_arn="s", subnet_ids=SUBNETS, security_group_id="g", log_retention_days=2
            ),
        ),
        "14",
    ),
    ("alarm_email", lambda: _monitoring(alarm_email="not-an-address"), "an address"),
    ("target_groups", lambda: _monitoring(target_groups=[]), "1 to 9"),
    (
        "instance_type",
        lambda: bastion.Bastion(
            "b", bastion.BastionArgs(subnet_id="s", security_group_id="g", instance_type="t3.nano")
        ),
        "Graviton",
    ),
    (
        "readonly_role",
        lambda: database_objects.DatabaseObjects(
            "o", database_objects.DatabaseObjectsArgs(owner="admin", app_password="x", readonly_role="app")
        ),
        "different",
    ),
]


@pytest.mark.parametrize(("field", "build", "allowed"), INVALID, ids=[f for f, _, _ in INVALID])
def test_bad_arguments_fail_with_field_value_and_allowed(field: str, build: Callable[[], Any], allowed: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(field)}=.* is not allowed; allowed: .*{re.escape(allowed)}"):
        build()


ARGS_CLASSES = [
    network.NetworkArgs,
    storage.StorageArgs,
    database.DatabaseArgs,
    pooling.PoolingArgs,
    certificate.CertificateArgs,
    dns.HostedZoneArgs,
    dns.AliasRecordsArgs,
    registry.RegistryArgs,
    loadbalancer.LoadBalancerArgs,
    loadbalancer.ResponseHeaders,
    service.ServiceArgs,
    dashboards.MonitoringArgs,
    database_objects.DatabaseObjectsArgs,
    bastion.BastionArgs,
    cache.CacheArgs,
    worker.WorkerArgs,
    task.FargateTaskArgs,
    task.Container,
    task.Scaling,
    task.Backlog,
    schedules.SchedulesArgs,
    schedules.ScheduledJob,
    firewall.FirewallArgs,
    identity.IdentityArgs,
]


@pytest.mark.parametrize("cls", ARGS_CLASSES, ids=lambda c: c.__name__)
def test_args_are_frozen_keyword_only_and_every_field_is_documented(cls: type) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    fields = dataclasses.fields(cls)
    assert all(f.kw_only for f in fields)
    import inspect

    source = inspect.getsource(cls)
    for f in fields:
        assert re.search(rf"\n    {f.name}: .*\n    \"\"\".+\"\"\"\n", source), (
            f"{cls.__name__}.{f.name} lacks a docstring"
        )


def test_secure_defaults() -> None:
    db = database.DatabaseArgs(subnet_ids=SUBNETS, security_group_id="sg")
    assert db.multi_az
    assert db.deletion_protection
    assert db.final_snapshot
    assert db.protect
    assert db.backup_retention_days >= 7
    assert storage.StorageArgs(region="r", account_id="1").protect is True
    assert storage.StorageArgs(region="r", account_id="1").force_destroy is False
    lb = loadbalancer.LoadBalancerArgs(
        vpc_id="v", subnet_ids=SUBNETS, security_group_id="s", certificate_arn="c", host_name="h", log_bucket="l"
    )
    assert lb.deletion_protection
    assert lb.ssl_policy in loadbalancer.SSL_POLICIES
    assert lb.health_check_path == "/livez"
    assert registry.RegistryArgs(context_dir=".", image_tag="t").immutable_tags is True
    assert network.NetworkArgs().nat_per_zone is True


def test_component_type_tokens_come_from_one_prefix() -> None:
    tokens = [
        network.TYPE, storage.TYPE, database.TYPE, pooling.TYPE, certificate.TYPE, dns.ZONE_TYPE, dns.RECORDS_TYPE,
        registry.TYPE, loadbalancer.TYPE, service.TYPE, dashboards.TYPE, database_objects.TYPE, bastion.TYPE,
        cache.TYPE, worker.TYPE, task.TYPE, schedules.TYPE, firewall.TYPE, grafana.TYPE, identity.TYPE,
    ]  # fmt: skip
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        prefix, _module, name = token.split(":")
        assert prefix == infra.PROJECT
        assert re.fullmatch(r"[A-Z][A-Za-z]+", name)


def test_connection_url_has_no_password_and_requires_verified_tls() -> None:
    url = pooling.connection_url("proxy.example", "app user", "app")
    parsed = urllib.parse.urlsplit(url)
    assert parsed.scheme == "postgresql"
    assert parsed.hostname == "proxy.example"
    assert parsed.port == 5432
    assert urllib.parse.unquote(parsed.username or "") == "app user"
    assert parsed.password is None
    assert parsed.query == "sslmode=verify-full&sslrootcert=system"
    assert parsed.path == "/app"


def test_connect_arn_names_the_proxy_and_the_user() -> None:
    arn = pooling.connect_arn("arn:aws:rds:eu-west-1:123456789012:db-proxy:prx-0abc", "app")
    assert arn == "arn:aws:rds-db:eu-west-1:123456789012:dbuser:prx-0abc/app"
    with pytest.raises(ValueError, match=r"proxy_arn=.*RDS Proxy ARN"):
        pooling.connect_arn("arn:aws:rds:eu-west-1:123456789012:db:mydb", "app")


def test_a_database_url_with_a_password_never_reaches_the_task_environment() -> None:
    with pytest.raises(ValueError, match="database_url carries a password") as raised:
        task.container_definitions(
            image="i",
            log_group="g",
            region="eu-west-1",
            environment={},
            database_url="postgresql://app:hunter2@proxy:5432/app",
            secrets={},
            port=8000,
            health_check_path="/livez",
            user="10001:10001",
            name="api",
        )
    assert "hunter2" not in str(raised.value)


def test_ipv6_blocks_are_distinct_64s_of_the_vpc() -> None:
    blocks = {network._ipv6_block("2a05:d018:abc:de00::/56", i) for i in range(3)}
    assert blocks == {"2a05:d018:abc:de00::/64", "2a05:d018:abc:de01::/64", "2a05:d018:abc:de02::/64"}


def test_too_few_zones_is_reported() -> None:
    with pytest.raises(ValueError, match="zone_count=3 is not allowed; allowed: at most 2"):
        network._zone(["a", "b"], 2, 3)


def test_elb_log_delivery_principal_depends_on_region() -> None:
    dev = recorded("dev")
    statements = json.loads(dev.one("aws:s3/bucketPolicy:BucketPolicy", "-logs-policy")["policy"])["Statement"]
    alb = next(s for s in statements if s["Sid"] == "LoadBalancerAccessLogs")
    assert alb["Principal"] == {"AWS": f"arn:aws:iam::{storage.ELB_LOG_ACCOUNTS['eu-west-1']}:root"}
    assert alb["Resource"].endswith(f"/{storage.ALB_LOG_PREFIX}/AWSLogs/123456789012/*")


def test_dashboard_body_lays_widgets_out_on_the_grid() -> None:
    args = dashboards.MonitoringArgs(
        region="eu-west-1", account_id="1", load_balancer="app/a/1", target_groups=["targetgroup/t/2"],
        cluster_name="c", service_name="s", db_instance="db", proxy_name="px", db_storage_gb=20,
    )  # fmt: skip
    body = panels.cloudwatch_body(dashboards.stack_panels(args), "eu-west-1")
    cells = {(w["x"], w["y"]) for w in body["widgets"]}
    assert len(cells) == len(body["widgets"])
    assert all(w["x"] in (0, 12) for w in body["widgets"])
