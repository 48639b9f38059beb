"""The stack's exported values, read from the components the program declared."""

from __future__ import annotations

import dataclasses
from typing import Any

from infra.backup import Backup
from infra.bastion import Bastion
from infra.cache import Cache
from infra.certificate import Certificate
from infra.dashboards import Monitoring
from infra.database import Database
from infra.dns import HostedZone
from infra.firewall import Firewall
from infra.grafana import GrafanaDashboard
from infra.identity import Identity
from infra.loadbalancer import LoadBalancer
from infra.pooling import Pooling
from infra.registry import Registry
from infra.release_gate import ReleaseGate
from infra.rotation import DatabaseCredentialsRotation
from infra.schedules import Schedules
from infra.service import Service
from infra.storage import Storage
from infra.worker import Worker
from stacks import outputs
from stacks.settings import StackSettings
from stacks.tokens import token_outputs


@dataclasses.dataclass(frozen=True, kw_only=True)
class Declared:
    """The components whose attributes the outputs name; None where the settings leave a part out."""

    storage: Storage
    database: Database
    pooling: Pooling
    credentials_rotation: DatabaseCredentialsRotation
    zone: HostedZone
    certificate: Certificate
    registry: Registry
    web: LoadBalancer
    service: Service
    identity: Identity | None
    monitoring: Monitoring
    cache: Cache | None
    worker: Worker | None
    schedules: Schedules | None
    firewall: Firewall | None
    backup: Backup | None
    bastion: Bastion | None
    grafana: GrafanaDashboard | None = None
    gate: ReleaseGate | None = None


def exports(s: StackSettings, d: Declared) -> dict[str, Any]:
    """Every output of the stack by its name in `stacks.outputs`."""
    data_resources = [
        {"kind": "rds-instance", "name": d.database.identifier, "protected": s.protect},
        {"kind": "s3-bucket", "name": d.storage.app_bucket_name, "protected": s.protect},
        {"kind": "s3-bucket", "name": d.storage.log_bucket_name, "protected": s.protect},
        {"kind": "secret", "name": d.database.app_secret.name, "protected": s.protect},
    ]
    if d.cache is not None:
        data_resources.append(
            {"kind": "elasticache-replication-group", "name": d.cache.group.id, "protected": s.protect}
        )
    if d.identity is not None:
        data_resources.append({"kind": "cognito-user-pool", "name": d.identity.user_pool_id, "protected": s.protect})
    if s.create_hosted_zone:
        data_resources.append({"kind": "route53-zone", "name": s.domain, "protected": s.protect})
    return {
        outputs.SERVICE_URL: s.service_url,
        outputs.SERVICE_HOST: s.host_name,
        outputs.HTTP_URL: f"http://{s.host_name}",
        **token_outputs(s, d.identity),
        outputs.LOAD_BALANCER_DNS: d.web.dns_name,
        outputs.DASHBOARD_URL: d.monitoring.dashboard_url,
        outputs.GRAFANA_DASHBOARD_URL: d.grafana.dashboard_url if d.grafana else None,
        outputs.PROXY_ENDPOINT: d.pooling.endpoint,
        outputs.PROXY_NAME: d.pooling.proxy_name,
        outputs.DATABASE_ENDPOINT: d.database.address,
        outputs.DATABASE_INSTANCE: d.database.identifier,
        outputs.DATABASE_NAME: s.database_name,
        outputs.DATABASE_URL: d.pooling.database_url,
        outputs.DATABASE_SECRET_ARN: d.database.app_secret.arn,
        outputs.APP_BUCKET: d.storage.app_bucket_name,
        outputs.LOG_BUCKET: d.storage.log_bucket_name,
        outputs.REPOSITORY_URL: d.registry.repository_url,
        outputs.IMAGE_REF: d.registry.image_ref,
        outputs.CLUSTER_NAME: d.service.cluster_name,
        outputs.SERVICE_NAME: d.service.service_name,
        outputs.LOG_GROUP: d.service.log_group_name,
        outputs.ALARM_TOPIC_ARN: d.monitoring.topic_arn,
        outputs.REGION: s.region,
        outputs.NAME_SERVERS: d.zone.name_servers,
        outputs.BASTION_INSTANCE_ID: d.bastion.instance_id if d.bastion else None,
        outputs.DATABASE_OBJECTS: s.database_objects,
        outputs.DATA_RESOURCES: data_resources,
        outputs.LOAD_BALANCER_ARN: d.web.arn,
        outputs.TARGET_GROUP_ARN: d.web.target_group.arn,
        outputs.ALTERNATE_TARGET_GROUP_ARN: d.web.alternate_target_group.arn,
        outputs.CERTIFICATE_ARN: d.certificate.certificate_arn,
        outputs.ZONE_ID: d.zone.zone_id,
        outputs.TASK_DEFINITION_ARN: d.service.task_definition_arn,
        outputs.DASHBOARD_NAME: d.monitoring.dashboard_name,
        outputs.ALARM_NAMES: d.monitoring.alarm_names,
        outputs.LOG_GROUPS: [
            d.service.log_group_name,
            *d.database.log_group_names,
            d.credentials_rotation.log_group_name,
            *(part.log_group_name for part in (d.cache, d.worker, d.firewall, d.gate) if part),
        ],
        outputs.CACHE_REPLICATION_GROUP: d.cache.group.id if d.cache else None,
        outputs.CACHE_URL: d.cache.url if d.cache else None,
        outputs.WORKER_SERVICE_NAME: d.worker.service_name if d.worker else None,
        outputs.SCHEDULE_GROUP: d.schedules.group_name if d.schedules else None,
        outputs.WEB_ACL_ARN: d.firewall.acl_arn if d.firewall else None,
        outputs.EDGE_RATE_LIMIT: s.firewall_rate_limit if d.firewall else None,
        outputs.EDGE_RATE_WINDOW_SECONDS: s.firewall_rate_window_seconds if d.firewall else None,
        outputs.EDGE_RATE_ALLOWANCE: s.firewall_rate_limit if d.firewall else None,
        outputs.BACKUP_VAULT: d.backup.vault_name if d.backup else None,
        outputs.RELEASE_CHECK_LOG_GROUP: d.gate.log_group_name if d.gate else None,
        outputs.RELEASE_TEST_URL: f"https://{s.host_name}:{d.web.test_port}",
    }
