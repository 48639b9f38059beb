"""The composition of components for one stack: settings in, resources declared, outputs exported."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.backup import Backup, BackupArgs
from infra.bastion import Bastion, BastionArgs
from infra.cache import Cache, CacheArgs
from infra.certificate import Certificate, CertificateArgs
from infra.dashboards import Monitoring, MonitoringArgs
from infra.database import Database, DatabaseArgs
from infra.dns import AliasRecords, AliasRecordsArgs, HostedZone, HostedZoneArgs
from infra.firewall import Firewall, FirewallArgs
from infra.identity import Identity, IdentityArgs
from infra.keys import KeyArns, StackKeys, StackKeysArgs
from infra.loadbalancer import LoadBalancer, LoadBalancerArgs
from infra.network import Network, NetworkArgs
from infra.pooling import Pooling, PoolingArgs
from infra.registry import Registry, RegistryArgs
from infra.rotation import DatabaseCredentialsRotation, DatabaseCredentialsRotationArgs
from infra.schedules import ScheduledJob, Schedules, SchedulesArgs
from infra.service import CONTAINER_NAME, Service
from infra.storage import ALB_LOG_PREFIX, Storage, StorageArgs
from infra.worker import Worker, WorkerArgs
from stacks import observability
from stacks.api_service import APP_PORT, LIVENESS_PATH, api_service, release_gate
from stacks.content_tag import content_tag
from stacks.derived import LB_IDLE_TIMEOUT_S, app_environment, managed_rules
from stacks.exports import Declared, exports
from stacks.gc_pause import without_collection_pauses
from stacks.settings import PROJECT_DIR, REDACTED, StackSettings
from stacks.tokens import token_environment

APP_DIR = PROJECT_DIR / "app_image"
"""Build context of the API image."""
RELEASE_TEST_PORT = 8443
"""The load balancer's test listener, where ECS sends a new release's test traffic (inside the stack only)."""
APP_USERNAME = "app"
"""Login role of the service in the database."""


def build(settings: StackSettings, *, app_dir: pathlib.Path = APP_DIR) -> dict[str, Any]:
    """Declares every resource of the stack and exports its outputs; returns the exported values."""
    with without_collection_pauses():
        return _declare(settings, app_dir)


def _declare(s: StackSettings, app_dir: pathlib.Path) -> dict[str, Any]:
    """The composition, top-down: each step declares one concern from the settings and what came before it."""
    prefix = f"gw-{s.stack}"
    provider = _provider(s, prefix)
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id

    # Protected stacks encrypt with their own keys: secrets, logs, Performance Insights, images and schedules.
    keys = (
        StackKeys(f"{prefix}-keys", StackKeysArgs(account_id=account_id, region=s.region), opts).arns
        if s.protect
        else KeyArns()
    )
    storage = _storage(s, prefix, opts, account_id)
    network = _network(s, prefix, opts, storage)
    database, pooling, credentials_rotation = _database(s, prefix, opts, provider, network, keys)
    zone, certificate = _domain(s, prefix, opts)
    registry = _registry(s, prefix, opts, app_dir, keys)
    identity = _identity(s, prefix, opts) if not s.external_issuer else None
    tokens = token_environment(s, identity)
    web = _load_balancer(s, prefix, opts, network, storage, certificate)
    cache = _cache(s, prefix, opts, account_id, network, keys) if s.cache else None
    gate = release_gate(s, prefix, opts, network, web, identity, keys)
    service = api_service(
        s, prefix, opts, network=network, web=web, gate=gate, registry=registry, pooling=pooling, storage=storage,
        cache=cache, tokens=tokens, environment=app_environment(s), keys=keys,
    )  # fmt: skip
    worker = (
        _worker(s, prefix, opts, network, service, registry, pooling, cache, tokens, keys)
        if s.worker and cache is not None
        else None
    )
    schedules = _schedules(s, prefix, opts, network, service, keys) if s.schedules else None
    firewall = _firewall(s, prefix, opts, web, keys) if s.firewall else None
    _records(s, prefix, opts, zone, web)
    backup = _backup(s, prefix, opts, account_id, database, storage) if s.backup else None
    parts = [part for part in (cache, worker, firewall, backup) if part]
    monitoring = _monitoring(s, prefix, opts, account_id, web, service, database, pooling, parts)
    bastion = _bastion(prefix, opts, network) if s.bastion else None
    grafana = observability.grafana(s, prefix, monitoring)

    exported = exports(
        s,
        Declared(
            storage=storage,
            database=database,
            pooling=pooling,
            credentials_rotation=credentials_rotation,
            zone=zone,
            certificate=certificate,
            registry=registry,
            web=web,
            service=service,
            identity=identity,
            monitoring=monitoring,
            cache=cache,
            worker=worker,
            schedules=schedules,
            firewall=firewall,
            backup=backup,
            bastion=bastion,
            grafana=grafana,
            gate=gate,
        ),
    )
    for key, value in exported.items():
        pulumi.export(key, value)
    return exported


def _provider(s: StackSettings, prefix: str) -> aws.Provider:
    # The one AWS provider of the program: region and tags come from the stack's settings.
    return aws.Provider(
        f"{prefix}-aws",
        region=s.region,
        default_tags={"tags": {"project": "groundwork", "stack": s.stack, "managed-by": "pulumi"}},
    )


def _storage(s: StackSettings, prefix: str, opts: pulumi.ResourceOptions, account_id: pulumi.Output[str]) -> Storage:
    """The application bucket and the log bucket every other log delivery writes to."""
    return Storage(
        f"{prefix}-store",
        StorageArgs(
            region=s.region,
            account_id=account_id,
            force_destroy=s.bucket_force_destroy,
            protect=s.protect,
            log_expiration_days=s.log_bucket_expiration_days,
            app_noncurrent_days=s.app_bucket_noncurrent_days,
            # The origins that may call the API may also upload to and download from its bucket.
            cors_origins=tuple(origin for origin in s.cors_origins.split(",") if origin),
        ),
        opts,
    )


def _network(s: StackSettings, prefix: str, opts: pulumi.ResourceOptions, storage: Storage) -> Network:
    """The VPC, its subnets and the security groups chained from the internet to the database."""
    network = Network(
        f"{prefix}-net",
        NetworkArgs(
            cidr=s.vpc_cidr,
            zone_count=s.availability_zones,
            nat_per_zone=s.nat_gateways == "perZone",
            app_port=APP_PORT,
            bastion=s.bastion,
            cache=s.cache,
            worker=s.worker,
            release_test_port=RELEASE_TEST_PORT,
            flow_log_bucket_arn=storage.log_bucket_arn_ready,
        ),
        opts,
    )
    return network


def _database(
    s: StackSettings, prefix: str, opts: pulumi.ResourceOptions, provider: aws.Provider, network: Network, keys: KeyArns
) -> tuple[Database, Pooling, DatabaseCredentialsRotation]:
    """The database, the proxy in front of it, its roles and grants, and the rotation of the proxy's credentials."""
    database = Database(
        f"{prefix}-db",
        DatabaseArgs(
            subnet_ids=network.database_subnet_ids,
            security_group_id=network.database_security_group.id,
            engine_version=s.db_engine_version,
            instance_class=s.db_instance_class,
            allocated_storage_gb=s.db_allocated_storage_gb,
            max_allocated_storage_gb=s.db_max_allocated_storage_gb,
            multi_az=s.db_multi_az,
            backup_retention_days=s.db_backup_retention_days,
            deletion_protection=s.db_deletion_protection,
            final_snapshot=s.db_final_snapshot,
            performance_insights_retention_days=s.db_performance_insights_retention_days,
            monitoring_interval_seconds=s.db_monitoring_interval_seconds,
            master_username=s.db_master_username,
            app_username=APP_USERNAME,
            database_name=s.database_name,
            secret_recovery_window_days=s.secret_recovery_window_days,
            protect=s.protect,
            log_retention_days=s.log_retention_days,
            keys=keys,
        ),
        opts,
    )
    pooling = Pooling(
        f"{prefix}-pool",
        PoolingArgs(
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.proxy_security_group.id,
            instance_identifier=database.identifier,
            credentials_secret_arn=database.app_secret.arn,
            username=APP_USERNAME,
            database_name=s.database_name,
            max_connections_percent=s.proxy_max_connections_percent,
            max_idle_connections_percent=s.proxy_max_idle_connections_percent,
            borrow_timeout_seconds=s.proxy_borrow_timeout_seconds,
            idle_client_timeout_seconds=s.proxy_idle_client_timeout_seconds,
            keys=keys,
        ),
        opts,
    )
    # The login role the rotation function signs in as exists once the database-objects step has run.
    objects = _database_objects(s, prefix, database, provider) if s.database_objects else None
    credentials_rotation = DatabaseCredentialsRotation(
        f"{prefix}-dbrotate",
        DatabaseCredentialsRotationArgs(
            region=s.region,
            secret_arn=database.app_secret.arn,
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.rotation_security_group.id,
            rotation_days=s.secret_rotation_days,
            log_retention_days=s.log_retention_days,
            ready=[database.app_secret_value, database.instance, *([objects] if objects else [])],
            keys=keys,
        ),
        opts,
    )
    return database, pooling, credentials_rotation


def _domain(s: StackSettings, prefix: str, opts: pulumi.ResourceOptions) -> tuple[HostedZone, Certificate]:
    """The domain's hosted zone and the host name's certificate."""
    zone = HostedZone(
        f"{prefix}-zone", HostedZoneArgs(domain=s.domain, create=s.create_hosted_zone, protect=s.protect), opts
    )
    certificate = Certificate(f"{prefix}-cert", CertificateArgs(domain_name=s.host_name, zone_id=zone.zone_id), opts)
    return zone, certificate


def _registry(
    s: StackSettings, prefix: str, opts: pulumi.ResourceOptions, app_dir: pathlib.Path, keys: KeyArns
) -> Registry:
    """The image repository and the API image built from `app_dir`."""
    return Registry(
        f"{prefix}-registry",
        RegistryArgs(
            context_dir=str(app_dir),
            image_tag=content_tag(app_dir),
            platform="linux/amd64",
            immutable_tags=s.ecr_immutable_tags,
            keep_images=s.ecr_keep_images,
            force_delete=s.bucket_force_destroy,
            keys=keys,
        ),
        opts,
    )


def _identity(s: StackSettings, prefix: str, opts: pulumi.ResourceOptions) -> Identity:
    """The user pool apps sign users in with, the API's scopes, and the app and machine clients."""
    return Identity(
        f"{prefix}-id",
        IdentityArgs(
            region=s.region,
            domain_prefix=s.domain_prefix,
            mfa=s.user_pool_mfa,
            password_min_length=s.user_pool_password_min_length,
            self_sign_up=s.user_pool_self_sign_up,
            access_token_minutes=s.access_token_minutes,
            id_token_minutes=s.id_token_minutes,
            refresh_token_days=s.refresh_token_days,
            protect=s.protect,
        ),
        opts,
    )


def _load_balancer(
    s: StackSettings,
    prefix: str,
    opts: pulumi.ResourceOptions,
    network: Network,
    storage: Storage,
    certificate: Certificate,
) -> LoadBalancer:
    """The public load balancer in front of the API."""
    return LoadBalancer(
        f"{prefix}-web",
        LoadBalancerArgs(
            vpc_id=network.vpc_id,
            subnet_ids=network.public_subnet_ids,
            security_group_id=network.alb_security_group.id,
            certificate_arn=certificate.certificate_arn,
            host_name=s.host_name,
            log_bucket=storage.log_bucket_ready,
            log_prefix=ALB_LOG_PREFIX,
            target_port=APP_PORT,
            health_check_path=LIVENESS_PATH,
            deletion_protection=s.alb_deletion_protection,
            test_port=RELEASE_TEST_PORT,
            idle_timeout_seconds=LB_IDLE_TIMEOUT_S,
        ),
        opts,
    )


def _cache(
    s: StackSettings,
    prefix: str,
    opts: pulumi.ResourceOptions,
    account_id: pulumi.Output[str],
    network: Network,
    keys: KeyArns,
) -> Cache:
    """The cache the API and the worker share."""
    assert network.cache_security_group is not None
    return Cache(
        f"{prefix}-cache",
        CacheArgs(
            region=s.region,
            account_id=account_id,
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.cache_security_group.id,
            node_type=s.cache_node_type,
            engine_version=s.cache_engine_version,
            replicas=s.cache_replicas,
            snapshot_retention_days=s.cache_snapshot_retention_days,
            eviction_policy=s.cache_eviction_policy,
            log_retention_days=s.log_retention_days,
            protect=s.protect,
            keys=keys,
        ),
        opts,
    )


def _worker(
    s: StackSettings,
    prefix: str,
    opts: pulumi.ResourceOptions,
    network: Network,
    service: Service,
    registry: Registry,
    pooling: Pooling,
    cache: Cache,
    tokens: dict[str, pulumi.Input[str]],
    keys: KeyArns,
) -> Worker:
    """The background worker in the service's cluster, from the API's image."""
    assert network.worker_security_group is not None
    return Worker(
        f"{prefix}-worker",
        WorkerArgs(
            region=s.region,
            cluster_arn=service.cluster_arn,
            cluster_name=service.cluster_name,
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.worker_security_group.id,
            image=registry.image_ref,
            repository_arn=registry.repository_arn,
            database_url=pooling.database_url,
            database_connect_arn=pooling.connect_arn,
            cache_connect_arns=cache.connect_arns,
            environment={
                "APP_VERSION": registry.image_tag,
                "CACHE_URL": cache.url,
                "CACHE_USERNAME": cache.username,
                "CACHE_IAM_AUTH": "true",
                **tokens,
            },
            cpu=s.worker_cpu,
            memory=s.worker_memory,
            min_count=s.worker_min_count,
            max_count=s.worker_max_count,
            backlog_per_task=s.worker_backlog_per_task,
            log_retention_days=s.log_retention_days,
            keys=keys,
        ),
        opts,
    )


def _schedules(
    s: StackSettings, prefix: str, opts: pulumi.ResourceOptions, network: Network, service: Service, keys: KeyArns
) -> Schedules:
    """The scheduled jobs, each a run of the API's task with the job's command."""
    return Schedules(
        f"{prefix}-jobs",
        SchedulesArgs(
            cluster_arn=service.cluster_arn,
            task_definition_arn=service.task_definition_arn,
            container_name=CONTAINER_NAME,
            pass_role_arns=[service.execution_role_arn, service.task_role_arn],
            subnet_ids=network.private_subnet_ids,
            security_group_id=(network.worker_security_group or network.service_security_group).id,
            jobs=[
                ScheduledJob(name=job.name, expression=job.expression, command=job.command, time_zone=job.time_zone)
                for job in s.schedules
            ],
            keys=keys,
        ),
        opts,
    )


def _firewall(
    s: StackSettings, prefix: str, opts: pulumi.ResourceOptions, web: LoadBalancer, keys: KeyArns
) -> Firewall:
    """The web ACL on the load balancer."""
    return Firewall(
        f"{prefix}-edge",
        FirewallArgs(
            load_balancer_arn=web.arn,
            region=s.region,
            rate_limit=s.firewall_rate_limit,
            rate_window_seconds=s.firewall_rate_window_seconds,
            managed_rules=managed_rules(s),
            log_retention_days=s.log_retention_days,
            keys=keys,
        ),
        opts,
    )


def _records(s: StackSettings, prefix: str, opts: pulumi.ResourceOptions, zone: HostedZone, web: LoadBalancer) -> None:
    """The host name's records pointing at the load balancer."""
    AliasRecords(
        f"{prefix}-dns",
        AliasRecordsArgs(
            zone_id=zone.zone_id, host_name=s.host_name, target_dns_name=web.dns_name, target_zone_id=web.zone_id
        ),
        opts,
    )


def _backup(
    s: StackSettings,
    prefix: str,
    opts: pulumi.ResourceOptions,
    account_id: pulumi.Output[str],
    database: Database,
    storage: Storage,
) -> Backup:
    """Daily AWS Backup recovery points of the database and the application bucket, copied to a second region."""
    return Backup(
        f"{prefix}-backup",
        BackupArgs(
            database_arn=database.instance.arn,
            bucket_arns=[storage.app_bucket_arn],
            region=s.region,
            account_id=account_id,
            retention_days=s.backup_retention_days,
            schedule=s.backup_schedule,
            copy_region=s.backup_copy_region,
            copy_retention_days=s.backup_copy_retention_days,
            vault_lock=s.backup_vault_lock,
            vault_lock_changeable_days=s.backup_vault_lock_changeable_days,
            protect=s.protect,
        ),
        opts,
    )


def _monitoring(
    s: StackSettings,
    prefix: str,
    opts: pulumi.ResourceOptions,
    account_id: pulumi.Output[str],
    web: LoadBalancer,
    service: Service,
    database: Database,
    pooling: Pooling,
    parts: list[Cache | Worker | Firewall | Backup],
) -> Monitoring:
    """The dashboard and the alarms, with the alarms and panels the optional parts bring."""
    return Monitoring(
        f"{prefix}-mon",
        MonitoringArgs(
            region=s.region,
            account_id=account_id,
            load_balancer=web.arn_suffix,
            target_groups=[web.target_group_arn_suffix, web.alternate_target_group_arn_suffix],
            cluster_name=service.cluster_name,
            service_name=service.service_name,
            db_instance=database.identifier,
            proxy_name=pooling.proxy_name,
            db_storage_gb=s.db_allocated_storage_gb,
            error_5xx_percent=s.alarm_5xx_percent,
            latency_p95_ms=s.alarm_latency_p95_ms,
            alarm_email=s.alarm_email if s.alarm_email not in (None, REDACTED) else None,
            extra_alarms=[spec for part in parts for spec in part.alarm_specs],
            extra_panels=[panel for part in parts for panel in part.panels],
        ),
        opts,
    )


def _bastion(prefix: str, opts: pulumi.ResourceOptions, network: Network) -> Bastion:
    """The SSM-managed host the database tunnel goes through."""
    assert network.bastion_security_group is not None
    return Bastion(
        f"{prefix}-bastion",
        BastionArgs(subnet_id=network.private_subnet_ids[0], security_group_id=network.bastion_security_group.id),
        opts,
    )


def _database_objects(s: StackSettings, prefix: str, database: Database, provider: aws.Provider) -> pulumi.Resource:
    """Roles and grants with an explicit postgresql provider, applied through the tunnel (docs/database-objects.md)."""
    import pulumi_postgresql as postgresql

    from infra.database_objects import DatabaseObjects, DatabaseObjectsArgs

    master = aws.secretsmanager.get_secret_version_output(
        secret_id=database.master_secret_arn, opts=pulumi.InvokeOutputOptions(provider=provider)
    )
    master_password = pulumi.Output.secret(master.secret_string).apply(lambda text: json.loads(text)["password"])
    # Connection of the administrator to the private database: `infra` sets databaseAdminHost/Port for each run
    # to its SSM port forward through the bastion (never in the stack file); without them, the instance endpoint
    # from a runner inside the VPC. TLS required, the RDS master user is not a superuser.
    admin = postgresql.Provider(
        f"{prefix}-postgresql",
        host=s.database_admin_host or database.address,
        port=s.database_admin_port,
        database="postgres",
        username=s.db_master_username,
        password=master_password,
        sslmode="require",
        superuser=False,
        connect_timeout=15,
    )
    return DatabaseObjects(
        f"{prefix}-dbobjects",
        DatabaseObjectsArgs(
            database_name=s.database_name,
            owner=s.db_master_username,
            app_username=APP_USERNAME,
            app_password=database.app_password.result,
        ),
        pulumi.ResourceOptions(providers={"postgresql": admin}, depends_on=[database]),
    )
