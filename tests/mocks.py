"""A strict Pulumi mock that records every resource and invoke of a program run with preview=False."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import hashlib
import json
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks as runtime_mocks
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from stacks.settings import PROJECT_DIR, StackSettings, from_values

ACCOUNT = "123456789012"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_SIG_KEY = "4dabf18193072939515e22adb298388d"


class UnknownInvoke(AssertionError):
    """The program called an invoke the mock does not know: add it deliberately or fix the program."""


@dataclasses.dataclass
class Recorded:
    """One registered resource: what the program asked for and what the mock answered."""

    type: str
    name: str
    urn: str
    id: str
    raw: Any
    state_raw: dict[str, Any]
    custom: bool
    protect: bool
    parent: str
    provider: str
    dependencies: list[str]
    ignore_changes: list[str]
    retain_on_delete: bool

    @functools.cached_property
    def inputs(self) -> dict[str, Any]:
        """Inputs as the mock received them: camelCase keys, numbers as floats, secrets unwrapped."""
        return _plain(runtime_mocks.rpc.deserialize_properties(self.raw))

    @functools.cached_property
    def state(self) -> dict[str, Any]:
        """What the mock answered: the inputs plus computed attributes."""
        return _plain(self.state_raw)

    @functools.cached_property
    def secret_inputs(self) -> frozenset[str]:
        """Top-level input names whose value is, or contains, a secret."""
        raw = json_format.MessageToDict(self.raw)
        return frozenset(k for k, v in raw.items() if _has_secret(v))

    def __getitem__(self, key: str) -> Any:
        return self.inputs[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.inputs.get(key, default)


@dataclasses.dataclass
class Recording:
    """Everything a program run declared."""

    settings: StackSettings
    resources: list[Recorded] = dataclasses.field(default_factory=list)
    invokes: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    exports: dict[str, Any] = dataclasses.field(default_factory=dict)

    def of_type(self, token: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == token]

    def one(self, token: str, suffix: str | None = None) -> Recorded:
        found = [r for r in self.of_type(token) if suffix is None or r.name.endswith(suffix)]
        assert len(found) == 1, f"expected one {token} ending {suffix!r}, found {[r.urn for r in found]}"
        return found[0]

    def by_name(self, name: str) -> Recorded:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    def counts(self) -> dict[str, int]:
        """Resources by type token, providers and components included."""
        return dict(sorted(collections.Counter(r.type for r in self.resources).items()))

    def children(self, parent: Recorded) -> Iterator[Recorded]:
        return (r for r in self.resources if r.parent == parent.urn)


def _physical(name: str) -> str:
    return f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:7]}"


def _hex(name: str, length: int = 17) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:length]


class StrictMocks(pulumi.runtime.Mocks):
    """Realistic ids and attributes per resource type; unknown invoke tokens raise."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.region = recording.settings.region

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.recording.invokes.append((args.token, dict(args.args)))
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
        region, account = self.region, ACCOUNT
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
                return {"name": physical}
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
            case "aws:sns/topic:Topic":
                return {"arn": f"arn:aws:sns:{region}:{account}:{physical}", "name": physical}
            case "pulumi-python:dynamic:Resource":
                return {"value": "m0ck" + _hex(name, int(inputs["length"]) - 4)}
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


class RecordingMonitor(runtime_mocks.MockMonitor):
    """The mock monitor, also keeping the resource options the request carries."""

    def __init__(self, mocks: StrictMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks.recording

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        state = self.resources[response.urn].state
        self.recording.resources.append(
            Recorded(
                type=request.type,
                name=request.name,
                urn=response.urn,
                id=response.id,
                raw=request.object,
                state_raw=state,
                custom=bool(request.custom),
                protect=bool(request.protect),
                parent=request.parent,
                provider=request.provider,
                dependencies=list(request.dependencies),
                ignore_changes=list(request.ignoreChanges),
                retain_on_delete=bool(request.retainOnDelete),
            )
        )
        return response


def _has_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(_SIG_KEY) == SECRET_SIG or any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


def _plain(value: Any) -> Any:
    """Inputs without Pulumi wrappers: secrets unwrapped, resources as their URNs."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == SECRET_SIG:
            return _plain(value.get("value"))
        return {k: _plain(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def run(settings: StackSettings, build: Callable[[StackSettings], dict[str, Any]] | None = None) -> Recording:
    """Runs the program for the settings under fresh mocks and returns what it declared and exported."""
    if build is None:
        from stacks.program import build as build_program

        build = build_program
    recording = Recording(settings=settings)
    mocks = StrictMocks(recording)
    exported: dict[str, Any] = {}

    def program() -> Any:
        values = build(settings)
        return pulumi.Output.from_input(values).apply(exported.update).future()

    # A loop of its own: other tests may have closed or unset the thread's loop, and none is left open after.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        runtime_settings.ROOT.set(None)
        pulumi.runtime.set_mocks(
            mocks, project="groundwork", stack=settings.stack, preview=False, monitor=RecordingMonitor(mocks)
        )
        # Leftovers of an earlier run that failed belong to a closed loop; start from nothing.
        runtime_settings.SETTINGS.rpc_manager.clear()
        runtime_settings.SETTINGS.outputs.clear()
        _sync_await(run_pulumi_func(program))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    recording.exports = exported
    return recording


def config_values(stack: str) -> tuple[Any, dict[str, Any]]:
    """The region and the `groundwork:` values of Pulumi.<stack>.yaml."""
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    config = document["config"]
    values = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("groundwork:")}
    return config.get("aws:region"), values


def settings_for(stack: str, **overrides: Any) -> StackSettings:
    """Validated settings of a stack file with some config keys overridden (None removes a key)."""
    region, values = config_values(stack)
    for key, value in overrides.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return from_values(stack, region, values)


@functools.cache
def recorded(stack: str, overrides: tuple[tuple[str, Any], ...] = ()) -> Recording:
    """A cached program run, shared by the tests of one session."""
    return run(settings_for(stack, **dict(overrides)))


def repository_root() -> pathlib.Path:
    return PROJECT_DIR
