"""Offline answers for the program: realistic ids and attributes per resource type, known invokes only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pulumi

ACCOUNT = "123456789012"
"""The account every offline ARN names."""


class UnknownInvoke(AssertionError):
    """The program called an invoke the offline answers do not know: add it deliberately or fix the program."""


def _physical(name: str) -> str:
    return f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:7]}"


def _hex(name: str, length: int = 17) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:length]


class StrictMocks(pulumi.runtime.Mocks):
    """Realistic ids and attributes per resource type; unknown invoke tokens raise."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.invokes: list[tuple[str, dict[str, Any]]] = []

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.invokes.append((args.token, dict(args.args)))
        handler = _INVOKES.get(args.token)
        if handler is None:
            raise UnknownInvoke(f"unexpected invoke {args.token} with {args.args}")
        return handler(self, dict(args.args))

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        state = dict(inputs)
        state.update(self._computed(args.typ, args.name, inputs))
        rid = state.pop("__id", None) or f"{args.name}-id"
        return rid, state

    def _computed(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        # pulumi-aws 7 resources may name their own region (a backup copy vault does); the provider's otherwise.
        region, account = inputs.get("region") or self.region, ACCOUNT
        physical = inputs.get("name") or _physical(name)
        arn = f"arn:aws:{typ.split(':')[1].split('/')[0]}:{region}:{account}:{physical}"
        if typ.startswith("pulumi:providers:"):
            return {"__id": f"{name}-provider-id"}
        match typ:
            case "aws:ec2/vpc:Vpc":
                return {"__id": f"vpc-{_hex(name)}", "ipv6CidrBlock": "2a05:d018:abc:de00::/56", "arn": arn}
            case "aws:ec2/subnet:Subnet":
                return {"__id": f"subnet-{_hex(name)}", "arn": arn}
            case "aws:ec2/securityGroup:SecurityGroup":
                return {"__id": f"sg-{_hex(name)}", "arn": arn, "name": physical}
            case "aws:ec2/eip:Eip":
                return {"__id": f"eipalloc-{_hex(name)}", "allocationId": f"eipalloc-{_hex(name)}"}
            case "aws:ec2/natGateway:NatGateway":
                return {"__id": f"nat-{_hex(name)}"}
            case "aws:ec2/internetGateway:InternetGateway":
                return {"__id": f"igw-{_hex(name)}"}
            case "aws:ec2/routeTable:RouteTable":
                return {"__id": f"rtb-{_hex(name)}"}
            case "aws:ec2/instance:Instance":
                return {"__id": f"i-{_hex(name)}", "privateIp": "10.0.64.10"}
            case "aws:route53/zone:Zone":
                return {
                    "__id": "Z0MOCKCREATED",
                    "zoneId": "Z0MOCKCREATED",
                    "nameServers": ["ns-1.awsdns-01.org", "ns-2.awsdns-02.net"],
                }
            case "aws:route53/record:Record":
                return {"fqdn": inputs["name"]}
            case "aws:acm/certificate:Certificate":
                domain = inputs["domainName"]
                return {
                    "arn": f"arn:aws:acm:{region}:{account}:certificate/{_hex(name, 32)}",
                    "domainValidationOptions": [
                        {
                            "domainName": domain,
                            "resourceRecordName": f"_{_hex(name, 32)}.{domain}.",
                            "resourceRecordType": "CNAME",
                            "resourceRecordValue": f"_{_hex(domain, 32)}.acm-validations.aws.",
                        }
                    ],
                }
            case "aws:acm/certificateValidation:CertificateValidation":
                return {"certificateArn": inputs["certificateArn"]}
            case "aws:rds/instance:Instance":
                identifier = inputs.get("identifier") or physical
                return {
                    "identifier": identifier,
                    "address": f"{identifier}.c0mock.{region}.rds.amazonaws.com",
                    "endpoint": f"{identifier}.c0mock.{region}.rds.amazonaws.com:5432",
                    "port": 5432,
                    "arn": f"arn:aws:rds:{region}:{account}:db:{identifier}",
                    "resourceId": f"db-{_hex(name, 26).upper()}",
                    "masterUserSecrets": [
                        {
                            "secretArn": f"arn:aws:secretsmanager:{region}:{account}:secret:rds!db-{_hex(name, 8)}",
                            "kmsKeyId": "alias/aws/secretsmanager",
                            "secretStatus": "active",
                        }
                    ],
                }
            case "aws:rds/proxy:Proxy":
                return {
                    "name": physical,
                    "arn": f"arn:aws:rds:{region}:{account}:db-proxy:prx-{_hex(name)}",
                    "endpoint": f"{physical}.proxy-c0mock.{region}.rds.amazonaws.com",
                }
            case "aws:rds/parameterGroup:ParameterGroup" | "aws:rds/subnetGroup:SubnetGroup":
                return {"name": physical, "arn": arn}
            case "aws:secretsmanager/secret:Secret":
                return {"name": physical, "arn": f"arn:aws:secretsmanager:{region}:{account}:secret:{physical}-AbCdEf"}
            case "aws:iam/role:Role":
                return {"name": physical, "arn": f"arn:aws:iam::{account}:role/{physical}"}
            case "aws:iam/instanceProfile:InstanceProfile":
                return {"name": physical, "arn": f"arn:aws:iam::{account}:instance-profile/{physical}"}
            case "aws:s3/bucket:Bucket":
                bucket = inputs.get("bucket") or physical
                return {"__id": bucket, "bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}
            case "aws:ecr/repository:Repository":
                return {
                    "name": physical,
                    "arn": f"arn:aws:ecr:{region}:{account}:repository/{physical}",
                    "registryId": account,
                    "repositoryUrl": f"{account}.dkr.ecr.{region}.amazonaws.com/{physical}",
                }
            case "docker-build:index:Image":
                digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
                tag = inputs["tags"][0]
                return {"digest": digest, "ref": f"{tag.rsplit(':', 1)[0]}@{digest}"}
            case "aws:lb/loadBalancer:LoadBalancer":
                suffix = f"app/{physical}/{_hex(name, 16)}"
                return {
                    "arn": f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/{suffix}",
                    "arnSuffix": suffix,
                    "dnsName": f"{physical}-1234567890.{region}.elb.amazonaws.com",
                    "zoneId": "Z32O12XQLNTSW2",
                }
            case "aws:lb/targetGroup:TargetGroup":
                suffix = f"targetgroup/{physical}/{_hex(name, 16)}"
                return {"arn": f"arn:aws:elasticloadbalancing:{region}:{account}:{suffix}", "arnSuffix": suffix}
            case "aws:lb/listener:Listener":
                return {"arn": f"arn:aws:elasticloadbalancing:{region}:{account}:listener/app/{_hex(name)}"}
            case "aws:ecs/cluster:Cluster":
                return {"name": physical, "arn": f"arn:aws:ecs:{region}:{account}:cluster/{physical}"}
            case "aws:ecs/service:Service":
                cluster = str(inputs.get("cluster", "")).rpartition("/")[2]
                return {"name": physical, "arn": f"arn:aws:ecs:{region}:{account}:service/{cluster}/{physical}"}
            case "aws:lambda/function:Function":
                return {"arn": f"arn:aws:lambda:{region}:{account}:function:{physical}", "name": physical}
            case "aws:serverlessrepository/cloudFormationStack:CloudFormationStack":
                function = (inputs.get("parameters") or {}).get("functionName", physical)
                return {"outputs": {"RotationLambdaARN": f"arn:aws:lambda:{region}:{account}:function:{function}"}}
            case "aws:ecs/taskDefinition:TaskDefinition":
                return {"arn": f"arn:aws:ecs:{region}:{account}:task-definition/{inputs['family']}:1", "revision": 1}
            case "aws:cloudwatch/logGroup:LogGroup":
                return {"arn": f"arn:aws:logs:{region}:{account}:log-group:{inputs.get('name') or physical}"}
            case "aws:cloudwatch/metricAlarm:MetricAlarm":
                return {"name": physical, "arn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{physical}"}
            case "aws:cloudwatch/dashboard:Dashboard":
                return {"dashboardArn": f"arn:aws:cloudwatch::{account}:dashboard/{inputs['dashboardName']}"}
            case "aws:kms/key:Key":
                key_id = f"{_hex(name, 8)}-{_hex(name + 'k', 4)}-4{_hex(name, 3)}-8{_hex(name, 3)}-{_hex(name, 12)}"
                return {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{account}:key/{key_id}"}
            case "aws:backup/vault:Vault":
                return {"name": physical, "arn": f"arn:aws:backup:{region}:{account}:backup-vault:{physical}"}
            case "aws:backup/plan:Plan":
                plan_id = f"{_hex(name, 8)}-{_hex(name + 'p', 4)}-4{_hex(name, 3)}-8{_hex(name, 3)}-{_hex(name, 12)}"
                return {
                    "__id": plan_id,
                    "arn": f"arn:aws:backup:{region}:{account}:backup-plan:{plan_id}",
                    "version": _hex(name + "v", 32),
                }
            case "aws:backup/selection:Selection":
                return {
                    "__id": f"{_hex(name, 8)}-{_hex(name + 's', 4)}-4{_hex(name, 3)}-8{_hex(name, 3)}-{_hex(name, 12)}"
                }
            case "aws:elasticache/replicationGroup:ReplicationGroup":
                group = inputs["replicationGroupId"]
                count = int(inputs.get("numCacheClusters") or 1)
                return {
                    "__id": group,
                    "arn": f"arn:aws:elasticache:{region}:{account}:replicationgroup:{group}",
                    "primaryEndpointAddress": f"master.{group}.c0mock.{region[:4]}.cache.amazonaws.com",
                    "readerEndpointAddress": f"replica.{group}.c0mock.{region[:4]}.cache.amazonaws.com",
                    "memberClusters": [f"{group}-{i:03d}" for i in range(1, count + 1)],
                }
            case "aws:elasticache/user:User":
                return {
                    "__id": inputs["userId"],
                    "arn": f"arn:aws:elasticache:{region}:{account}:user:{inputs['userId']}",
                }
            case "aws:elasticache/userGroup:UserGroup":
                group = inputs["userGroupId"]
                return {"__id": group, "arn": f"arn:aws:elasticache:{region}:{account}:usergroup:{group}"}
            case "aws:elasticache/subnetGroup:SubnetGroup" | "aws:elasticache/parameterGroup:ParameterGroup":
                return {"__id": inputs["name"], "arn": f"arn:aws:elasticache:{region}:{account}:{inputs['name']}"}
            case "aws:sns/topic:Topic":
                return {"arn": f"arn:aws:sns:{region}:{account}:{physical}", "name": physical}
            case "random:index/randomId:RandomId":
                digest = _hex(name, int(inputs["byteLength"]) * 2)
                return {"hex": digest, "dec": str(int(digest, 16))}
            case "random:index/randomPassword:RandomPassword":
                return {
                    "result": "m0ck" + _hex(name, int(inputs["length"]) - 4),
                    "bcryptHash": "$2a$10$" + _hex(name, 53),
                }
        return {"arn": arn}


def _zones(mocks: StrictMocks, args: dict) -> dict:
    assert args.get("state") == "available", args
    names = [f"{mocks.region}{letter}" for letter in "abc"]
    return {"id": mocks.region, "names": names, "zoneIds": [f"euw1-az{i}" for i in (1, 2, 3)]}


def _zone(mocks: StrictMocks, args: dict) -> dict:
    assert args.get("privateZone") is False, args
    return {
        "id": "Z0MOCKZONE",
        "zoneId": "Z0MOCKZONE",
        "name": args["name"],
        "nameServers": ["ns-1.awsdns-01.org"],
        "privateZone": False,
    }


_INVOKES: dict[str, Callable[[StrictMocks, dict], dict]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _zones,
    "aws:index/getCallerIdentity:getCallerIdentity": lambda m, a: {
        "id": ACCOUNT,
        "accountId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
        "userId": "AIDAMOCK",
    },
    "aws:route53/getZone:getZone": _zone,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": lambda m, a: {
        "id": a.get("registryId", ACCOUNT),
        "userName": "AWS",
        "password": "mock-ecr-password",
        "authorizationToken": "QVdTOm1vY2s=",
        "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.{m.region}.amazonaws.com",
        "expiresAt": "2030-01-01T00:00:00Z",
    },
    "aws:ssm/getParameter:getParameter": lambda m, a: {
        "id": a["name"],
        "name": a["name"],
        "type": "String",
        "value": "ami-0123456789abcdef0",
        "arn": f"arn:aws:ssm:{m.region}::parameter{a['name']}",
        "version": 1,
        "insecureValue": "ami-0123456789abcdef0",
    },
    "aws:secretsmanager/getSecretVersion:getSecretVersion": lambda m, a: {
        "id": a["secretId"],
        "arn": a["secretId"],
        "secretId": a["secretId"],
        "secretString": json.dumps({"username": "groundwork_admin", "password": "master-from-rds"}),
        "versionId": "v1",
        "versionStages": ["AWSCURRENT"],
    },
}
