"""Values the program derives from the settings alone: the API's plain environment, the firewall's managed groups."""

from __future__ import annotations

from infra.firewall import MANAGED_GROUPS
from stacks.settings import StackSettings

LB_IDLE_TIMEOUT_S = 60
"""Seconds the load balancer keeps an idle connection, to clients and to the targets."""
API_KEEPALIVE_S = LB_IDLE_TIMEOUT_S + 5
"""The API's own keep-alive: longer than the load balancer's idle timeout, so the API never closes a connection the
load balancer is about to reuse (the load balancer answers such a request 502)."""


def workers(cpu_units: int) -> int:
    """API worker processes for a task size: one per half vCPU, at least one (a task may see more CPUs)."""
    return max(1, cpu_units // 512)


def app_environment(s: StackSettings) -> dict[str, str]:
    """Plain settings of the API process that come from the stack's settings."""
    environment = {
        "WORKERS": str(workers(s.service_cpu)),
        "KEEPALIVE_SECONDS": str(API_KEEPALIVE_S),
        "CACHE_TTL_SECONDS": str(s.cache_ttl_seconds),
        "SUBJECT_RATE_LIMIT": str(s.subject_rate_limit),
        "SUBJECT_RATE_WINDOW_SECONDS": str(s.subject_rate_window_seconds),
    }
    if s.cors_origins:
        environment["CORS_ORIGINS"] = s.cors_origins
        environment["CORS_ALLOW_CREDENTIALS"] = str(s.cors_allow_credentials).lower()
    return environment


def managed_rules(s: StackSettings) -> dict[str, str]:
    """The firewall's managed groups that are not off, with their mode."""
    modes = {
        "core": s.firewall_core_rules,
        "knownBadInputs": s.firewall_known_bad_inputs,
        "sqlInjection": s.firewall_sql_injection,
        "ipReputation": s.firewall_ip_reputation,
    }
    assert set(modes) == set(MANAGED_GROUPS)
    return {group: mode for group, mode in modes.items() if mode != "off"}
