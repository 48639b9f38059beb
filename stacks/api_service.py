"""The API's service and its blue/green release: the check function, its roles, and the service deployed through it."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from infra.cache import Cache
from infra.identity import Identity
from infra.keys import KeyArns
from infra.loadbalancer import LoadBalancer
from infra.network import Network
from infra.pooling import Pooling
from infra.registry import Registry
from infra.release_gate import HOOK_STAGE, ReleaseGate, ReleaseGateArgs
from infra.service import Service, ServiceArgs
from infra.storage import Storage
from infra.task import BlueGreenArgs
from stacks.settings import StackSettings

APP_PORT = 8000
"""Port the API listens on (PORT)."""
LIVENESS_PATH = "/livez"
"""The API's no-I/O liveness endpoint."""


def release_gate(
    s: StackSettings,
    prefix: str,
    opts: pulumi.ResourceOptions,
    network: Network,
    web: LoadBalancer,
    identity: Identity | None,
    keys: KeyArns,
) -> ReleaseGate:
    """The release check at the test listener, signed in as the stack's machine client when it has its own pool."""
    assert network.release_check_security_group is not None
    return ReleaseGate(
        f"{prefix}-release",
        ReleaseGateArgs(
            check_url=f"https://{s.host_name}:{web.test_port}",
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.release_check_security_group.id,
            user_pool_arn=identity.user_pool_arn if identity else None,
            user_pool_id=identity.user_pool_id if identity else None,
            machine_client_id=identity.machine_client_id if identity else None,
            token_endpoint=identity.token_endpoint if identity else None,
            log_retention_days=s.log_retention_days,
            keys=keys,
        ),
        opts,
    )


def api_service(
    s: StackSettings,
    prefix: str,
    opts: pulumi.ResourceOptions,
    *,
    network: Network,
    web: LoadBalancer,
    gate: ReleaseGate,
    registry: Registry,
    pooling: Pooling,
    storage: Storage,
    cache: Cache | None,
    tokens: Mapping[str, pulumi.Input[str]],
    environment: Mapping[str, str],
    keys: KeyArns,
) -> Service:
    """The API on ECS behind the load balancer, each release blue/green through the gate's check."""
    return Service(
        f"{prefix}-api",
        ServiceArgs(
            region=s.region,
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.service_security_group.id,
            target_group_arn=web.target_group_arn,
            # After a release the tasks serve from the other target group: requests are tracked in both.
            request_count_labels=[
                pulumi.Output.concat(web.arn_suffix, "/", suffix)
                for suffix in (web.target_group_arn_suffix, web.alternate_target_group_arn_suffix)
            ],
            image=registry.image_ref,
            repository_arn=registry.repository_arn,
            app_version=registry.image_tag,
            database_url=pooling.database_url,
            database_connect_arn=pooling.connect_arn,
            bucket_arn=storage.app_bucket_arn,
            bucket_name=storage.app_bucket_name,
            bucket_key_arn=storage.app_key_arn,
            token_environment=dict(tokens),
            container_port=APP_PORT,
            health_check_path=LIVENESS_PATH,
            cpu=s.service_cpu,
            memory=s.service_memory,
            desired_count=s.service_desired_count,
            min_count=s.service_min_count,
            max_count=s.service_max_count,
            cpu_target_percent=s.autoscaling_cpu_target,
            requests_per_target=s.autoscaling_requests_per_target,
            log_retention_days=s.log_retention_days,
            extra_environment=dict(environment),
            cache_url=cache.url if cache else None,
            cache_username=cache.username if cache else None,
            cache_connect_arns=cache.connect_arns if cache else (),
            keys=keys,
            blue_green=BlueGreenArgs(
                alternate_target_group_arn=web.alternate_target_group_arn,
                production_listener_rule_arn=web.production_rule_arn,
                test_listener_rule_arn=web.test_rule_arn,
                load_balancer_role_arn=gate.load_balancer_role_arn,
                hook_function_arn=gate.function_arn,
                hook_role_arn=gate.invoke_role_arn,
                hook_stage=HOOK_STAGE,
                bake_time_minutes=s.release_bake_minutes,
                ready=gate.ready,
            ),
        ),
        opts,
    )
