"""Every documented setting, given a valid value other than its default, still plans in dev and prod."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.setting_types import REQUIRED
from stacks.settings import SETTINGS
from tests.mocks import config_values, run, settings_for

FEATURES_ON: dict[str, Any] = {
    "protect": False,
    "domain": "example.org",
    "serviceSubdomain": "api.staging",
    "createHostedZone": True,
    "vpcCidr": "10.30.0.0/16",
    "availabilityZones": 3,
    "natGateways": "perZone",
    "dbEngineVersion": "16",
    "dbInstanceClass": "db.r7g.large",
    "dbAllocatedStorageGb": 40,
    "dbMaxAllocatedStorageGb": 200,
    "dbMultiAz": True,
    "dbBackupRetentionDays": 3,
    "dbDeletionProtection": False,
    "dbFinalSnapshot": False,
    "dbPerformanceInsightsRetentionDays": 62,
    "dbMonitoringIntervalSeconds": 30,
    "dbMasterUsername": "gw_owner",
    "databaseName": "practice",
    "proxyMaxConnectionsPercent": 70,
    "proxyMaxIdleConnectionsPercent": 20,
    "proxyBorrowTimeoutSeconds": 5,
    "proxyIdleClientTimeoutSeconds": 900,
    "serviceCpu": 512,
    "serviceMemory": 2048,
    "serviceDesiredCount": 2,
    "serviceMinCount": 2,
    "serviceMaxCount": 6,
    "autoscalingCpuTarget": 70,
    "autoscalingRequestsPerTarget": 800,
    "logRetentionDays": 30,
    "ecrImmutableTags": True,
    "ecrKeepImages": 20,
    "albDeletionProtection": False,
    "bucketForceDestroy": True,
    "logBucketExpirationDays": 120,
    "appBucketNoncurrentDays": 14,
    "secretRecoveryWindowDays": 0,
    "secretRotationDays": 14,
    "alarmEmail": "ops@example.org",
    "alarm5xxPercent": 2,
    "alarmLatencyP95Ms": 350,
    "costBudgetMonthlyUsd": 900,
    "databaseAdminHost": "127.0.0.1",
    "databaseAdminPort": 15432,
    "cacheNodeType": "cache.t4g.small",
    "cacheEngineVersion": "7.2",
    "cacheReplicas": 2,
    "cacheSnapshotRetentionDays": 3,
    "cacheEvictionPolicy": "volatile-lru",
    "cacheTtlSeconds": 60,
    "workerCpu": 512,
    "workerMemory": 1024,
    "workerMinCount": 2,
    "workerMaxCount": 5,
    "workerBacklogPerTask": 50,
    "schedules": [
        {
            "name": "prune-events-monthly",
            "expression": "cron(0 2 1 * ? *)",
            "command": "python -m groundwork_api.jobs prune-events --days 30",
        }
    ],
    "firewallRateLimit": 500,
    "firewallRateWindowSeconds": 60,
    "firewallCoreRules": "count",
    "firewallKnownBadInputs": "count",
    "firewallSqlInjection": "count",
    "firewallIpReputation": "off",
    "subjectRateLimit": 60,
    "subjectRateWindowSeconds": 30,
    "corsOrigins": "https://app.example.com",
    # A team with its own Grafana gets the dashboard there too.
    "grafanaUrl": "https://grafana.example.com",
    "grafanaToken": "glsa_example",
    "corsAllowCredentials": True,
    "backupRetentionDays": 90,
    "backupSchedule": "cron(30 4 * * ? *)",
    "backupCopyRegion": "eu-north-1",
    "backupCopyRetentionDays": 60,
    "backupVaultLock": True,
    "backupVaultLockChangeableDays": 5,
    "userPoolMfa": "ON",
    "userPoolPasswordMinLength": 16,
    "userPoolSelfSignUp": True,
    "userPoolDomainPrefix": "practice-auth",
    "accessTokenMinutes": 10,
    "idTokenMinutes": 30,
    "refreshTokenDays": 30,
    "releaseBakeMinutes": 15,
}
"""A non-default value for every setting that does not turn a part of the program off."""

FEATURES_OFF: dict[str, Any] = {
    "protect": False,
    "bucketForceDestroy": True,
    "cache": False,
    "worker": False,
    "firewall": False,
    "backup": False,
    "bastion": False,
    "databaseObjects": False,
    # An issuer of your own leaves the user pool out.
    "oidcIssuer": "https://issuer.example.org/",
    "oidcJwksUrl": "https://issuer.example.org/keys",
    "oidcAudience": "practice-api,practice-batch",
    "oidcScopePrefix": "https://api.example.org/",
    "oidcUserScope": "openid",
}
"""The switches that leave a part out, flipped together (the worker needs the cache)."""

GROUPS = {"features-on": FEATURES_ON, "features-off": FEATURES_OFF}


def test_every_documented_setting_has_a_value_here() -> None:
    covered = set(FEATURES_ON) | set(FEATURES_OFF)
    assert {s.key for s in SETTINGS} - covered == set(), "give the new setting a non-default value in this test"


@pytest.mark.parametrize("group", GROUPS)
def test_each_value_is_valid_and_not_the_default(group: str) -> None:
    by_key = {s.key: s for s in SETTINGS}
    for stack in ("dev", "prod"):
        settings = settings_for(stack, **GROUPS[group])
        _, file_values = config_values(stack)
        for key, value in GROUPS[group].items():
            spec = by_key[key]
            default = file_values.get(key) if spec.default is REQUIRED else spec.default
            assert spec.kind(value) != default, f"{key}: {value!r} is its default"
            assert getattr(settings, spec.attr) == spec.kind(value), f"{key} did not take {value!r} in {stack}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("group", GROUPS)
def test_the_program_plans_with_every_setting_changed(stack: str, group: str) -> None:
    recording = run(settings_for(stack, **GROUPS[group]))
    assert recording.resources, f"{stack} with {group} declared nothing"
