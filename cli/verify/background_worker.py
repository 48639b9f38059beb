"""The worker service as ECS reports it: active, tasks running, private, no load balancer, rolled back on failure."""

from __future__ import annotations

from typing import Any

from cli.verify.context import Context
from cli.verify.model import Check, Unverifiable, judge
from stacks import outputs as out

FAMILY = "worker"


def check_service(service: dict[str, Any]) -> list[Check]:
    """Active with its tasks running, no load balancer, no public address, rollback on failed deployments."""
    name = service.get("serviceName", "?")
    running, desired = service.get("runningCount", 0), service.get("desiredCount", 0)
    network = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    public = network.get("assignPublicIp", "DISABLED")
    breaker = ((service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker")) or {}
    return [
        judge(
            FAMILY,
            "active",
            service.get("status") == "ACTIVE",
            f"status {service.get('status')}",
            "status ACTIVE",
            name,
        ),
        judge(
            FAMILY,
            "tasks running",
            desired > 0 and running == desired,
            f"{running} of {desired} running",
            "every desired task running",
            name,
            warn=running > 0,
        ),
        judge(
            FAMILY,
            "no public address",
            public == "DISABLED",
            f"assignPublicIp {public}",
            "assignPublicIp DISABLED",
            name,
        ),
        judge(
            FAMILY,
            "no load balancer",
            not service.get("loadBalancers"),
            f"{len(service.get('loadBalancers') or [])} load balancer(s)",
            "none",
            name,
        ),
        judge(
            FAMILY,
            "rollback on failure",
            bool(breaker.get("enable") and breaker.get("rollback")),
            f"circuit breaker {breaker or 'off'}",
            "circuit breaker with rollback",
            name,
        ),
    ]


def verify(ctx: Context) -> list[Check]:
    """Every worker check; a stack without a worker has none."""
    worker = ctx.output(out.WORKER_SERVICE_NAME)
    if worker is None:
        return []
    cluster = str(ctx.require(out.CLUSTER_NAME, "ECS cluster name"))
    answer = ctx.client("ecs").describe_services(cluster=cluster, services=[str(worker)])
    found = answer.get("services") or []
    if not found or found[0].get("status") == "INACTIVE":
        raise Unverifiable(
            "exists", f"ECS has no worker service {worker} in {cluster}", "the worker exists", str(worker)
        )
    return check_service(found[0])
