"""A healthy groundwork dev stack built in moto, with handles to break it one way at a time."""

from __future__ import annotations

import io
import json
import socket
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cli.core.outputs import StackOutput
from stacks import outputs as out

REGION = "eu-west-1"
HOST = "api.dev.example.com"
PREFIX = "gw-dev"
DB_ID = f"{PREFIX}-db"
PROXY = f"{PREFIX}-pool-proxy-1a2b3c"
CLUSTER = f"{PREFIX}-api-cluster-4d5e6f"
SERVICE = f"{PREFIX}-api-service-7a8b9c"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/gw-dev-registry@sha256:" + "ab" * 32
DASHBOARD = f"{PREFIX}-mon-dashboard"
SERVICE_LOGS = f"/groundwork/{PREFIX}-api"
RDS_LOGS = [f"/aws/rds/instance/{DB_ID}/postgresql", f"/aws/rds/instance/{DB_ID}/upgrade"]
APP_BUCKET = f"{PREFIX}-store-app-0a1b2c"
LOG_BUCKET = f"{PREFIX}-store-logs-3d4e5f"
DATABASE_SECRET = f"{PREFIX}-pool-database-url"
SECRET_VALUES = {
    DATABASE_SECRET: json.dumps({"engine": "postgres", "username": "app_login", "password": "moto-db-password-9f3k"}),
}
"""Values of the stack's secrets, which no check may read or print."""
ROTATION_DAYS = 30
"""The dev stack's rotation interval (secretRotationDays' default)."""
LB_ADDRESS = "192.0.2.10"
"""The address the fake resolver gives the service's host name (TEST-NET-1, never routed)."""


def self_signed(host: str, days: int) -> tuple[bytes, bytes]:
    """A certificate for `host` valid from yesterday for `days` days, and its private key (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def import_certificate(host: str = HOST, days: int = 90) -> str:
    """Import a self-signed certificate into ACM (moto reports it ISSUED with its real expiry)."""
    cert, key = self_signed(host, days)
    return boto3.client("acm", region_name=REGION).import_certificate(Certificate=cert, PrivateKey=key)[
        "CertificateArn"
    ]


def tls_only_policy(bucket: str) -> str:
    """The bucket policy the program declares: deny every request without TLS."""
    arn = f"arn:aws:s3:::{bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


@dataclass
class Stack:
    """Handles of the healthy stack's resources and the outputs the program would export."""

    subnets: list[str] = field(default_factory=list)
    vpc: str = ""
    lb_arn: str = ""
    lb_dns: str = ""
    lb_zone: str = ""
    target_group: str = ""
    http_listener: str = ""
    https_listener: str = ""
    certificate: str = ""
    database_secret: str = ""
    zone: str = ""
    task_definition: str = ""
    topic: str = ""
    alarms: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def stack_outputs(self, *, derived_only: bool = False) -> dict[str, StackOutput]:
        """The outputs as the engine returns them; `derived_only` leaves out the names verify can derive."""
        optional = {
            out.LOAD_BALANCER_ARN,
            out.TARGET_GROUP_ARN,
            out.CERTIFICATE_ARN,
            out.ZONE_ID,
            out.TASK_DEFINITION_ARN,
            out.DASHBOARD_NAME,
            out.ALARM_NAMES,
            out.LOG_GROUPS,
        }
        return {
            name: StackOutput(value, secret=name == out.DATABASE_SECRET_ARN)
            for name, value in self.outputs.items()
            if not (derived_only and name in optional)
        }


def resolver(table: dict[str, list[str]] | None = None):
    """A resolver answering from a table; unknown names fail like the system resolver's NXDOMAIN."""
    known = {HOST: [LB_ADDRESS]} if table is None else table

    def resolve(host: str) -> list[str]:
        if host not in known:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return known[host]

    return resolve


def build_network(stack: Stack) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    stack.vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    for index, zone in enumerate(("eu-west-1a", "eu-west-1b")):
        subnet = ec2.create_subnet(VpcId=stack.vpc, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=zone)
        stack.subnets.append(subnet["Subnet"]["SubnetId"])


def create_database(identifier: str = DB_ID, **overrides: Any) -> None:
    """The dev database as the program declares it."""
    settings = {
        "DBInstanceIdentifier": identifier,
        "Engine": "postgres",
        "EngineVersion": "17.2",
        "DBInstanceClass": "db.t4g.small",
        "AllocatedStorage": 20,
        "StorageEncrypted": True,
        "PubliclyAccessible": False,
        "MultiAZ": False,
        "BackupRetentionPeriod": 1,
        "DeletionProtection": False,
        "MasterUsername": "groundwork_admin",
        "MasterUserPassword": "not-a-real-password-1",
    }
    settings.update(overrides)
    boto3.client("rds", region_name=REGION).create_db_instance(**settings)


def create_proxy(stack: Stack, name: str = PROXY, *, require_tls: bool = True, target: str | None = DB_ID) -> None:
    """An RDS Proxy in front of `target`; its target is read once so moto reports it AVAILABLE afterwards."""
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_proxy(
        DBProxyName=name,
        EngineFamily="POSTGRESQL",
        Auth=[{"AuthScheme": "SECRETS", "SecretArn": stack.database_secret, "IAMAuth": "DISABLED"}],
        RoleArn="arn:aws:iam::123456789012:role/gw-dev-pool-role",
        VpcSubnetIds=stack.subnets,
        RequireTLS=require_tls,
    )
    if target:
        rds.register_db_proxy_targets(DBProxyName=name, TargetGroupName="default", DBInstanceIdentifiers=[target])
        rds.describe_db_proxy_targets(DBProxyName=name)


def register_task(cpu: str = "256", memory: str = "512", image: str = IMAGE) -> str:
    """A revision of the service's task definition."""
    ecs = boto3.client("ecs", region_name=REGION)
    return ecs.register_task_definition(
        family=f"{PREFIX}-api",
        cpu=cpu,
        memory=memory,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        containerDefinitions=[{"name": "api", "image": image, "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]


def build_service(stack: Stack) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName=CLUSTER)
    stack.task_definition = register_task()
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=stack.task_definition,
        desiredCount=1,
        launchType="FARGATE",
        loadBalancers=[{"targetGroupArn": stack.target_group, "containerName": "api", "containerPort": 8000}],
    )


def build_load_balancer(stack: Stack) -> None:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    lb = elbv2.create_load_balancer(
        Name=f"{PREFIX}-web-alb-1234567", Subnets=stack.subnets, Scheme="internet-facing", Type="application"
    )["LoadBalancers"][0]
    stack.lb_arn, stack.lb_dns, stack.lb_zone = lb["LoadBalancerArn"], lb["DNSName"], lb["CanonicalHostedZoneId"]
    stack.target_group = elbv2.create_target_group(
        Name=f"{PREFIX}-web-tg-89abcde", Protocol="HTTP", Port=8000, VpcId=stack.vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    stack.http_listener = elbv2.create_listener(
        LoadBalancerArn=stack.lb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
        ],
    )["Listeners"][0]["ListenerArn"]
    stack.certificate = import_certificate()
    stack.https_listener = elbv2.create_listener(
        LoadBalancerArn=stack.lb_arn,
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": stack.certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": stack.target_group}],
    )["Listeners"][0]["ListenerArn"]
    elbv2.register_targets(TargetGroupArn=stack.target_group, Targets=[{"Id": "10.0.1.10", "Port": 8000}])


def alias_change(stack: Stack, action: str, record_type: str) -> dict[str, Any]:
    """A change of one of the service's alias records."""
    return {
        "Action": action,
        "ResourceRecordSet": {
            "Name": HOST,
            "Type": record_type,
            "AliasTarget": {
                "HostedZoneId": stack.lb_zone,
                "DNSName": f"dualstack.{stack.lb_dns}",
                "EvaluateTargetHealth": True,
            },
        },
    }


def build_dns(stack: Stack) -> None:
    route53 = boto3.client("route53", region_name=REGION)
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="verify-tests")["HostedZone"]
    stack.zone = zone["Id"].removeprefix("/hostedzone/")
    route53.change_resource_record_sets(
        HostedZoneId=stack.zone,
        ChangeBatch={"Changes": [alias_change(stack, "CREATE", kind) for kind in ("A", "AAAA")]},
    )


def build_monitoring(stack: Stack) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    stack.topic = boto3.client("sns", region_name=REGION).create_topic(Name=f"{PREFIX}-mon-alarms")["TopicArn"]
    widgets = [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {"title": t, "metrics": []}}
        for t in ("Requests", "Targets")
    ]
    cloudwatch.put_dashboard(DashboardName=DASHBOARD, DashboardBody=json.dumps({"widgets": widgets}))
    for suffix in ("5xx-rate-a1b2c3d", "db-cpu-e4f5a6b"):
        name = f"{PREFIX}-mon-{suffix}"
        put_alarm(name, actions=[stack.topic])
        stack.alarms.append(name)
    logs = boto3.client("logs", region_name=REGION)
    for group in (SERVICE_LOGS, *RDS_LOGS):
        logs.create_log_group(logGroupName=group)
        logs.put_retention_policy(logGroupName=group, retentionInDays=14)


def put_alarm(name: str, *, actions: list[str], enabled: bool = True) -> None:
    """A metric alarm like the program's, notifying `actions`."""
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/RDS",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": DB_ID}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=2,
        Threshold=80,
        ComparisonOperator="GreaterThanThreshold",
        ActionsEnabled=enabled,
        AlarmActions=actions,
        OKActions=actions,
    )


def build_buckets() -> None:
    s3 = boto3.client("s3", region_name=REGION)
    for bucket, algorithm in ((APP_BUCKET, "aws:kms"), (LOG_BUCKET, "AES256")):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}}]
            },
        )
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket))


def rotation_function(name: str) -> str:
    """A Lambda function standing in for a rotation function: moto stores it and (without Docker) never runs it."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler", Code={"ZipFile": code.getvalue()}
    )["FunctionArn"]


def schedule_rotation(secret: str, days: int = ROTATION_DAYS, function: str | None = None) -> None:
    """Rotate `secret` every `days` days with `function` (by default its current one), first one interval from now.

    RotateImmediately=False, as the program sets it. moto then invokes only the testSecret step (no code runs), but
    leaves that step's AWSPENDING version behind, which AWS removes: its label is removed here, so the secret looks as
    AWS leaves it. moto also sets LastRotatedDate to now where AWS sets none before the first rotation; verify accepts
    both (the never-rotated case is stubbed in test_secrets.py)."""
    client = boto3.client("secretsmanager", region_name=REGION)
    function = function or client.describe_secret(SecretId=secret)["RotationLambdaARN"]
    client.rotate_secret(
        SecretId=secret,
        RotationLambdaARN=function,
        RotationRules={"AutomaticallyAfterDays": days},
        RotateImmediately=False,
    )
    for version, stages in client.describe_secret(SecretId=secret)["VersionIdsToStages"].items():
        if stages == ["AWSPENDING"]:
            client.update_secret_version_stage(SecretId=secret, VersionStage="AWSPENDING", RemoveFromVersionId=version)


def create_rotated_secret(name: str, function: str) -> str:
    """A secret holding its SECRET_VALUES entry, rotated every ROTATION_DAYS by a new function named `function`."""
    client = boto3.client("secretsmanager", region_name=REGION)
    arn = client.create_secret(Name=name, SecretString=SECRET_VALUES[name])["ARN"]
    schedule_rotation(arn, function=rotation_function(function))
    return arn


def build_secrets(stack: Stack) -> None:
    stack.database_secret = create_rotated_secret(DATABASE_SECRET, f"{PREFIX}-dbrotate-app-fn")


def build_healthy_stack() -> Stack:
    """Every resource of a healthy dev stack, and the outputs the program exports for it."""
    stack = Stack()
    build_network(stack)
    build_secrets(stack)
    create_database()
    create_proxy(stack)
    build_load_balancer(stack)
    build_service(stack)
    build_dns(stack)
    build_monitoring(stack)
    build_buckets()
    stack.outputs = {
        out.SERVICE_URL: f"https://{HOST}",
        out.SERVICE_HOST: HOST,
        out.LOAD_BALANCER_DNS: stack.lb_dns,
        out.DASHBOARD_URL: f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
        f"#dashboards/dashboard/{DASHBOARD}",
        out.PROXY_ENDPOINT: f"{PROXY}.proxy-abc.{REGION}.rds.amazonaws.com",
        out.PROXY_NAME: PROXY,
        out.DATABASE_ENDPOINT: f"{DB_ID}.abc.{REGION}.rds.amazonaws.com",
        out.DATABASE_INSTANCE: DB_ID,
        out.DATABASE_NAME: "app",
        out.DATABASE_SECRET_ARN: stack.database_secret,
        out.APP_BUCKET: APP_BUCKET,
        out.LOG_BUCKET: LOG_BUCKET,
        out.IMAGE_REF: IMAGE,
        out.CLUSTER_NAME: CLUSTER,
        out.SERVICE_NAME: SERVICE,
        out.LOG_GROUP: SERVICE_LOGS,
        out.ALARM_TOPIC_ARN: stack.topic,
        out.REGION: REGION,
        out.LOAD_BALANCER_ARN: stack.lb_arn,
        out.TARGET_GROUP_ARN: stack.target_group,
        out.CERTIFICATE_ARN: stack.certificate,
        out.ZONE_ID: stack.zone,
        out.TASK_DEFINITION_ARN: stack.task_definition,
        out.DASHBOARD_NAME: DASHBOARD,
        out.ALARM_NAMES: list(stack.alarms),
        out.LOG_GROUPS: [SERVICE_LOGS, *RDS_LOGS],
    }
    return stack
