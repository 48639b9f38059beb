"""Which input changes replace a resource, per type: an approximation of the AWS provider's diff."""

from __future__ import annotations

ANY = "*"
"""Every input change replaces the resource (a new revision)."""

REPLACED_BY: dict[str, frozenset[str]] = {
    "aws:rds/instance:Instance": frozenset(
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
    "aws:rds/cluster:Cluster": frozenset(
        {"clusterIdentifier", "engine", "databaseName", "storageEncrypted", "kmsKeyId"}
    ),
    "aws:rds/proxy:Proxy": frozenset({"name", "engineFamily", "vpcSubnetIds"}),
    "aws:rds/parameterGroup:ParameterGroup": frozenset({"name", "namePrefix", "family", "description"}),
    "aws:rds/subnetGroup:SubnetGroup": frozenset({"name", "namePrefix"}),
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix", "objectLockEnabled"}),
    "aws:ec2/vpc:Vpc": frozenset({"cidrBlock", "instanceTenancy"}),
    "aws:ec2/subnet:Subnet": frozenset({"vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId"}),
    "aws:ec2/securityGroup:SecurityGroup": frozenset({"name", "namePrefix", "vpcId", "description"}),
    "aws:ec2/natGateway:NatGateway": frozenset({"subnetId", "allocationId", "connectivityType"}),
    "aws:ec2/eip:Eip": frozenset({"domain"}),
    "aws:lb/loadBalancer:LoadBalancer": frozenset({"name", "namePrefix", "internal", "loadBalancerType"}),
    "aws:lb/targetGroup:TargetGroup": frozenset({"name", "namePrefix", "port", "protocol", "vpcId", "targetType"}),
    "aws:ecs/cluster:Cluster": frozenset({"name"}),
    "aws:ecs/service:Service": frozenset({"name", "cluster", "launchType"}),
    "aws:ecs/taskDefinition:TaskDefinition": frozenset({ANY}),
    "aws:ecr/repository:Repository": frozenset({"name"}),
    "aws:secretsmanager/secret:Secret": frozenset({"name", "namePrefix"}),
    "aws:cloudwatch/logGroup:LogGroup": frozenset({"name", "namePrefix"}),
    "aws:acm/certificate:Certificate": frozenset(
        {"domainName", "subjectAlternativeNames", "keyAlgorithm", "validationMethod"}
    ),
    "aws:iam/role:Role": frozenset({"name", "namePrefix", "path"}),
    "aws:kms/key:Key": frozenset({"customerMasterKeySpec", "keyUsage", "multiRegion"}),
    "aws:route53/record:Record": frozenset({"name", "type", "zoneId"}),
    "aws:route53/zone:Zone": frozenset({"name"}),
    "aws:sns/topic:Topic": frozenset({"name", "namePrefix", "fifoTopic"}),
}
"""Input names (camelCase, as in the plan) whose change makes the provider delete and recreate the resource."""

DATA_HOLDING: frozenset[str] = frozenset(
    {
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:rds/proxy:Proxy",
        "aws:s3/bucket:Bucket",
        "aws:secretsmanager/secret:Secret",
        "aws:route53/zone:Zone",
        "aws:kms/key:Key",
    }
)
"""Types whose replacement or deletion loses data or an address other systems use."""


def replacing_keys(resource_type: str, changed: set[str], replace_on_changes: list[str]) -> list[str]:
    """The changed top-level inputs that force replacement, by the table and the resource's own option."""
    forced = REPLACED_BY.get(resource_type, frozenset()) | set(replace_on_changes)
    if ANY in forced:
        return sorted(changed)
    return sorted(changed & forced)
