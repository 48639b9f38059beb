"""Which input changes replace a resource, per type: an approximation of the AWS provider's diff."""

from __future__ import annotations

from cli.core import resource_types

ANY = "*"
"""Every input change replaces the resource (a new revision)."""

REPLACED_BY: dict[str, frozenset[str]] = {
    resource_types.RDS_INSTANCE: frozenset(
        {
            "identifier",
            "identifierPrefix",
            "engine",
            "dbName",
            "username",
            "storageEncrypted",
            "kmsKeyId",
            "availabilityZone",
        }
    ),
    resource_types.RDS_CLUSTER: frozenset(
        {"clusterIdentifier", "engine", "databaseName", "storageEncrypted", "kmsKeyId"}
    ),
    resource_types.RDS_PROXY: frozenset({"name", "engineFamily", "vpcSubnetIds"}),
    resource_types.RDS_PARAMETER_GROUP: frozenset({"name", "namePrefix", "family", "description"}),
    resource_types.RDS_SUBNET_GROUP: frozenset({"name", "namePrefix"}),
    resource_types.S3_BUCKET: frozenset({"bucket", "bucketPrefix", "objectLockEnabled"}),
    resource_types.EC2_VPC: frozenset({"cidrBlock", "instanceTenancy"}),
    resource_types.EC2_SUBNET: frozenset({"vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId"}),
    resource_types.EC2_SECURITY_GROUP: frozenset({"name", "namePrefix", "vpcId", "description"}),
    resource_types.EC2_NAT_GATEWAY: frozenset({"subnetId", "allocationId", "connectivityType"}),
    resource_types.EC2_EIP: frozenset({"domain"}),
    resource_types.LB_LOAD_BALANCER: frozenset({"name", "namePrefix", "internal", "loadBalancerType"}),
    resource_types.LB_TARGET_GROUP: frozenset({"name", "namePrefix", "port", "protocol", "vpcId", "targetType"}),
    resource_types.ECS_CLUSTER: frozenset({"name"}),
    resource_types.ECS_SERVICE: frozenset({"name", "cluster", "launchType"}),
    resource_types.ECS_TASK_DEFINITION: frozenset({ANY}),
    resource_types.ECR_REPOSITORY: frozenset({"name"}),
    resource_types.SECRETSMANAGER_SECRET: frozenset({"name", "namePrefix"}),
    resource_types.CLOUDWATCH_LOG_GROUP: frozenset({"name", "namePrefix"}),
    resource_types.ACM_CERTIFICATE: frozenset(
        {"domainName", "subjectAlternativeNames", "keyAlgorithm", "validationMethod"}
    ),
    resource_types.IAM_ROLE: frozenset({"name", "namePrefix", "path"}),
    resource_types.KMS_KEY: frozenset({"customerMasterKeySpec", "keyUsage", "multiRegion"}),
    resource_types.ROUTE53_RECORD: frozenset({"name", "type", "zoneId"}),
    resource_types.ROUTE53_ZONE: frozenset({"name"}),
    resource_types.SNS_TOPIC: frozenset({"name", "namePrefix", "fifoTopic"}),
}
"""Input names (camelCase, as in the plan) whose change makes the provider delete and recreate the resource."""

DATA_HOLDING: frozenset[str] = frozenset(
    {
        resource_types.RDS_INSTANCE,
        resource_types.RDS_CLUSTER,
        resource_types.RDS_PROXY,
        resource_types.S3_BUCKET,
        resource_types.SECRETSMANAGER_SECRET,
        resource_types.ROUTE53_ZONE,
        resource_types.KMS_KEY,
    }
)
"""Types whose replacement or deletion loses data or an address other systems use."""


def replacing_keys(resource_type: str, changed: set[str], replace_on_changes: list[str]) -> list[str]:
    """The changed top-level inputs that force replacement, by the table and the resource's own option."""
    forced = REPLACED_BY.get(resource_type, frozenset()) | set(replace_on_changes)
    if ANY in forced:
        return sorted(changed)
    return sorted(changed & forced)
