"""Offline answers for the program: realistic ids and attributes per resource type, known invokes only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pulumi

from cli.core import resource_types

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
            case resource_types.EC2_VPC:
                return {"__id": f"vpc-{_hex(name)}", "ipv6CidrBlock": "2a05:d018:abc:de00::/56", "arn": arn}
            case resource_types.EC2_SUBNET:
                return {"__id": f"subnet-{_hex(name)}", "arn": arn}
            case resource_types.EC2_SECURITY_GROUP:
                return {"__id": f"sg-{_hex(name)}", "arn": arn, "name": physical}
            case resource_types.EC2_EIP:
                return {
                    "__id": f"eipalloc-{_hex(name)}",
                    "allocationId": f"eipalloc-{_hex(name)}",
                    # An address of the documentation range (RFC 5737), one per name.
                    "publicIp": f"203.0.113.{hashlib.sha256(name.encode()).digest()[0] % 254 + 1}",
                }
            case resource_types.EC2_NAT_GATEWAY:
                return {"__id": f"nat-{_hex(name)}"}
            case resource_types.EC2_INTERNET_GATEWAY:
                return {"__id": f"igw-{_hex(name)}"}
            case resource_types.EC2_ROUTE_TABLE:
                return {"__id": f"rtb-{_hex(name)}"}
            case resource_types.EC2_INSTANCE:
                return {"__id": f"i-{_hex(name)}", "privateIp": "10.0.64.10"}
            case resource_types.ROUTE53_ZONE:
                return {
                    "__id": "Z0MOCKCREATED",
                    "zoneId": "Z0MOCKCREATED",
                    "nameServers": ["ns-1.awsdns-01.org", "ns-2.awsdns-02.net"],
                }
            case resource_types.ROUTE53_RECORD:
                return {"fqdn": inputs["name"]}
            case resource_types.ACM_CERTIFICATE:
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
            case resource_types.ACM_CERTIFICATE_VALIDATION:
                return {"certificateArn": inputs["certificateArn"]}
            case resource_types.RDS_INSTANCE:
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
            case resource_types.RDS_PROXY:
                return {
                    "name": physical,
                    "arn": f"arn:aws:rds:{region}:{account}:db-proxy:prx-{_hex(name)}",
                    "endpoint": f"{physical}.proxy-c0mock.{region}.rds.amazonaws.com",
                }
            case resource_types.RDS_PARAMETER_GROUP | resource_types.RDS_SUBNET_GROUP:
                return {"name": physical, "arn": arn}
            case resource_types.SECRETSMANAGER_SECRET:
                return {"name": physical, "arn": f"arn:aws:secretsmanager:{region}:{account}:secret:{physical}-AbCdEf"}
            case resource_types.IAM_ROLE:
                return {"name": physical, "arn": f"arn:aws:iam::{account}:role/{physical}"}
            case resource_types.IAM_INSTANCE_PROFILE:
                return {"name": physical, "arn": f"arn:aws:iam::{account}:instance-profile/{physical}"}
            case resource_types.S3_BUCKET:
                bucket = inputs.get("bucket") or physical
                return {"__id": bucket, "bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}
            case resource_types.ECR_REPOSITORY:
                return {
                    "name": physical,
                    "arn": f"arn:aws:ecr:{region}:{account}:repository/{physical}",
                    "registryId": account,
                    "repositoryUrl": f"{account}.dkr.ecr.{region}.amazonaws.com/{physical}",
                }
            case resource_types.DOCKER_BUILD_IMAGE:
                digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
                tag = inputs["tags"][0]
                return {"digest": digest, "ref": f"{tag.rsplit(':', 1)[0]}@{digest}"}
            case resource_types.LB_LOAD_BALANCER:
                suffix = f"app/{physical}/{_hex(name, 16)}"
                return {
                    "arn": f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/{suffix}",
                    "arnSuffix": suffix,
                    "dnsName": f"{physical}-1234567890.{region}.elb.amazonaws.com",
                    "zoneId": "Z32O12XQLNTSW2",
                }
            case resource_types.LB_TARGET_GROUP:
                suffix = f"targetgroup/{physical}/{_hex(name, 16)}"
                return {"arn": f"arn:aws:elasticloadbalancing:{region}:{account}:{suffix}", "arnSuffix": suffix}
            case resource_types.LB_LISTENER:
                return {"arn": f"arn:aws:elasticloadbalancing:{region}:{account}:listener/app/{_hex(name)}"}
            case resource_types.LB_LISTENER_RULE:
                return {"arn": f"arn:aws:elasticloadbalancing:{region}:{account}:listener-rule/app/{_hex(name)}"}
            case resource_types.ECS_CLUSTER:
                return {"name": physical, "arn": f"arn:aws:ecs:{region}:{account}:cluster/{physical}"}
            case resource_types.ECS_SERVICE:
                cluster = str(inputs.get("cluster", "")).rpartition("/")[2]
                return {"name": physical, "arn": f"arn:aws:ecs:{region}:{account}:service/{cluster}/{physical}"}
            case resource_types.LAMBDA_FUNCTION:
                return {"arn": f"arn:aws:lambda:{region}:{account}:function:{physical}", "name": physical}
            case resource_types.SERVERLESSREPOSITORY_CLOUD_FORMATION_STACK:
                function = (inputs.get("parameters") or {}).get("functionName", physical)
                return {"outputs": {"RotationLambdaARN": f"arn:aws:lambda:{region}:{account}:function:{function}"}}
            case resource_types.ECS_TASK_DEFINITION:
                return {"arn": f"arn:aws:ecs:{region}:{account}:task-definition/{inputs['family']}:1", "revision": 1}
            case resource_types.CLOUDWATCH_LOG_GROUP:
                return {"arn": f"arn:aws:logs:{region}:{account}:log-group:{inputs.get('name') or physical}"}
            case resource_types.CLOUDWATCH_METRIC_ALARM:
                return {"name": physical, "arn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{physical}"}
            case resource_types.CLOUDWATCH_DASHBOARD:
                return {"dashboardArn": f"arn:aws:cloudwatch::{account}:dashboard/{inputs['dashboardName']}"}
            case resource_types.KMS_KEY:
                key_id = f"{_hex(name, 8)}-{_hex(name + 'k', 4)}-4{_hex(name, 3)}-8{_hex(name, 3)}-{_hex(name, 12)}"
                return {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{account}:key/{key_id}"}
            case resource_types.BACKUP_VAULT:
                return {"name": physical, "arn": f"arn:aws:backup:{region}:{account}:backup-vault:{physical}"}
            case resource_types.BACKUP_PLAN:
                plan_id = f"{_hex(name, 8)}-{_hex(name + 'p', 4)}-4{_hex(name, 3)}-8{_hex(name, 3)}-{_hex(name, 12)}"
                return {
                    "__id": plan_id,
                    "arn": f"arn:aws:backup:{region}:{account}:backup-plan:{plan_id}",
                    "version": _hex(name + "v", 32),
                }
            case resource_types.BACKUP_SELECTION:
                return {
                    "__id": f"{_hex(name, 8)}-{_hex(name + 's', 4)}-4{_hex(name, 3)}-8{_hex(name, 3)}-{_hex(name, 12)}"
                }
            case resource_types.ELASTICACHE_REPLICATION_GROUP:
                group = inputs["replicationGroupId"]
                count = int(inputs.get("numCacheClusters") or 1)
                return {
                    "__id": group,
                    "arn": f"arn:aws:elasticache:{region}:{account}:replicationgroup:{group}",
                    "primaryEndpointAddress": f"master.{group}.c0mock.{region[:4]}.cache.amazonaws.com",
                    "readerEndpointAddress": f"replica.{group}.c0mock.{region[:4]}.cache.amazonaws.com",
                    "memberClusters": [f"{group}-{i:03d}" for i in range(1, count + 1)],
                }
            case resource_types.ELASTICACHE_USER:
                return {
                    "__id": inputs["userId"],
                    "arn": f"arn:aws:elasticache:{region}:{account}:user:{inputs['userId']}",
                }
            case resource_types.ELASTICACHE_USER_GROUP:
                group = inputs["userGroupId"]
                return {"__id": group, "arn": f"arn:aws:elasticache:{region}:{account}:usergroup:{group}"}
            case resource_types.ELASTICACHE_SUBNET_GROUP | resource_types.ELASTICACHE_PARAMETER_GROUP:
                return {"__id": inputs["name"], "arn": f"arn:aws:elasticache:{region}:{account}:{inputs['name']}"}
            case resource_types.SNS_TOPIC:
                return {"arn": f"arn:aws:sns:{region}:{account}:{physical}", "name": physical}
            case resource_types.COGNITO_USER_POOL:
                pool_id = f"{region}_{_hex(name, 9)}"
                return {
                    "__id": pool_id,
                    "arn": f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool_id}",
                    "endpoint": f"cognito-idp.{region}.amazonaws.com/{pool_id}",
                    "name": physical,
                }
            case resource_types.COGNITO_USER_POOL_CLIENT:
                secret = {"clientSecret": "m0ck" + _hex(name + "secret", 48)} if inputs.get("generateSecret") else {}
                return {"__id": _hex(name, 26), "name": physical, **secret}
            case resource_types.COGNITO_RESOURCE_SERVER:
                identifier = inputs["identifier"]
                scopes = [f"{identifier}/{scope['scopeName']}" for scope in inputs.get("scopes", [])]
                return {"__id": f"{inputs['userPoolId']}|{identifier}", "scopeIdentifiers": scopes}
            case resource_types.COGNITO_USER_POOL_DOMAIN:
                return {"__id": inputs["domain"], "cloudfrontDistribution": f"d{_hex(name, 13)}.cloudfront.net"}
            case resource_types.GRAFANA_DASHBOARD:
                uid = json.loads(inputs["configJson"])["uid"]
                return {"__id": f"1:{uid}", "uid": uid, "dashboardId": 1, "version": 1, "url": f"/d/{uid}"}
            case resource_types.GRAFANA_DATA_SOURCE:
                return {"__id": f"1:{inputs['uid']}"}
            case resource_types.RANDOM_ID:
                digest = _hex(name, int(inputs["byteLength"]) * 2)
                return {"hex": digest, "dec": str(int(digest, 16))}
            case resource_types.RANDOM_PASSWORD:
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
    resource_types.INDEX_GET_AVAILABILITY_ZONES: _zones,
    resource_types.INDEX_GET_CALLER_IDENTITY: lambda m, a: {
        "id": ACCOUNT,
        "accountId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
        "userId": "AIDAMOCK",
    },
    resource_types.ROUTE53_GET_ZONE: _zone,
    resource_types.ECR_GET_AUTHORIZATION_TOKEN: lambda m, a: {
        "id": a.get("registryId", ACCOUNT),
        "userName": "AWS",
        "password": "mock-ecr-password",
        "authorizationToken": "QVdTOm1vY2s=",
        "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.{m.region}.amazonaws.com",
        "expiresAt": "2030-01-01T00:00:00Z",
    },
    resource_types.SSM_GET_PARAMETER: lambda m, a: {
        "id": a["name"],
        "name": a["name"],
        "type": "String",
        "value": "ami-0123456789abcdef0",
        "arn": f"arn:aws:ssm:{m.region}::parameter{a['name']}",
        "version": 1,
        "insecureValue": "ami-0123456789abcdef0",
    },
    resource_types.SECRETSMANAGER_GET_SECRET_VERSION: lambda m, a: {
        "id": a["secretId"],
        "arn": a["secretId"],
        "secretId": a["secretId"],
        "secretString": json.dumps({"username": "groundwork_admin", "password": "master-from-rds"}),
        "versionId": "v1",
        "versionStages": ["AWSCURRENT"],
    },
}
