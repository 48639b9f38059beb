"""`infra restore` against moto: a new instance with the live one's settings, strict times, refusals, the switch."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from cli.core.errors import ConfirmationRefused
from cli.core.outputs import StackOutput
from cli.recovery import rds
from cli.recovery.confirm import confirm_switch
from cli.recovery.times import BadRestorePoint, parse_instant
from stacks import outputs as out
from tests.cli.recovery.conftest import REGION

LIVE = "gw-prod-db"
PROXY = "gw-prod-pool"


def _live(client: Any, *, managed_password: bool = False) -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    client.create_db_subnet_group(DBSubnetGroupName="gw-db-subnets", DBSubnetGroupDescription="d", SubnetIds=subnets)
    client.create_db_parameter_group(
        DBParameterGroupName="gw-db-params", DBParameterGroupFamily="postgres17", Description="p"
    )
    client.create_db_instance(
        DBInstanceIdentifier=LIVE,
        Engine="postgres",
        EngineVersion="17.2",
        DBInstanceClass="db.t4g.small",
        AllocatedStorage=20,
        MasterUsername="groundwork_admin",
        **({"ManageMasterUserPassword": True} if managed_password else {"MasterUserPassword": "not-a-real-password"}),
        DBSubnetGroupName="gw-db-subnets",
        VpcSecurityGroupIds=[group],
        DBParameterGroupName="gw-db-params",
        StorageEncrypted=True,
        EnableIAMDatabaseAuthentication=True,
        DeletionProtection=True,
        BackupRetentionPeriod=7,
        MultiAZ=True,
        CopyTagsToSnapshot=True,
        EnableCloudwatchLogsExports=["postgresql", "upgrade"],
    )
    return {"group": group, "subnets": subnets}


@pytest.fixture
def cloud(aws: None) -> dict[str, Any]:
    client = boto3.client("rds", region_name=REGION)
    return {"rds": client, **_live(client)}


def _recent() -> datetime:
    """A moment inside the window of an instance moto made a moment ago (its window starts at its creation)."""
    return datetime.now(UTC)


def _described(client: Any, identifier: str) -> dict[str, Any]:
    return client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def test_a_point_in_time_restore_copies_the_live_instances_placement_and_security(cloud) -> None:
    client = cloud["rds"]
    result = rds.restore(
        client, rds.RestoreRequest(source=LIVE, into="gw-prod-db-restored", to=_recent()), wait_delay_s=1
    )
    new = _described(client, "gw-prod-db-restored")
    assert result.method == "point-in-time"
    assert new["DBSubnetGroup"]["DBSubnetGroupName"] == "gw-db-subnets"
    assert [g["VpcSecurityGroupId"] for g in new["VpcSecurityGroups"]] == [cloud["group"]]
    assert new["DBParameterGroups"][0]["DBParameterGroupName"] == "gw-db-params"
    assert new["StorageEncrypted"] is True
    assert new["IAMDatabaseAuthenticationEnabled"] is True
    assert new["DeletionProtection"] is True
    assert new.get("PubliclyAccessible") is not True
    assert result.copied["PubliclyAccessible"] is False
    assert result.address == new["Endpoint"]["Address"]
    assert result.copied["StorageEncrypted"] is True
    tags = {t["Key"]: t["Value"] for t in new.get("TagList", [])}
    assert tags[rds.RESTORED_TAG] == LIVE
    live = _described(client, LIVE)
    assert live["DBInstanceStatus"] == "available", "the live instance is untouched"
    assert live["Endpoint"]["Address"] != result.address


def test_a_snapshot_restore_uses_the_snapshot(cloud) -> None:
    client = cloud["rds"]
    client.create_db_snapshot(DBInstanceIdentifier=LIVE, DBSnapshotIdentifier="before-migration")
    result = rds.restore(
        client, rds.RestoreRequest(source=LIVE, into="from-snap", snapshot="before-migration"), wait_delay_s=1
    )
    new = _described(client, "from-snap")
    assert result.method == "snapshot"
    assert result.snapshot == "before-migration"
    assert new["StorageEncrypted"] is True
    assert new["DBSubnetGroup"]["DBSubnetGroupName"] == "gw-db-subnets"


@pytest.mark.parametrize(
    ("into", "message"),
    [
        (LIVE, "never overwrites"),
        (LIVE.upper(), "never overwrites"),
        ("1-starts-with-digit", "not a valid"),
        ("double--hyphen", "not a valid"),
        ("ends-with-", "not a valid"),
        ("x" * 64, "not a valid"),
        ("has_underscore", "not a valid"),
    ],
)
def test_bad_or_live_names_are_refused_before_anything_is_created(cloud, into: str, message: str) -> None:
    client = cloud["rds"]
    with pytest.raises(rds.RestoreRefused, match=message):
        rds.restore(client, rds.RestoreRequest(source=LIVE, into=into, to=_recent()), wait_delay_s=1)
    assert [i["DBInstanceIdentifier"] for i in client.describe_db_instances()["DBInstances"]] == [LIVE]


def test_an_existing_name_is_refused(cloud) -> None:
    client = cloud["rds"]
    rds.restore(client, rds.RestoreRequest(source=LIVE, into="taken", to=_recent()), wait_delay_s=1)
    with pytest.raises(rds.RestoreRefused, match="already exists"):
        rds.restore(client, rds.RestoreRequest(source=LIVE, into="taken", to=_recent()), wait_delay_s=1)


def test_a_time_outside_the_window_names_the_window(cloud) -> None:
    client = cloud["rds"]
    with pytest.raises(BadRestorePoint, match=r"restorable window is \d{4}-\d\d-\d\dT.*Z to \d{4}-.*Z") as caught:
        rds.restore(client, rds.RestoreRequest(source=LIVE, into="too-old", to=_recent() - timedelta(days=30)))
    assert "before the earliest" in caught.value.message
    with pytest.raises(BadRestorePoint, match="after the latest"):
        rds.restore(client, rds.RestoreRequest(source=LIVE, into="future", to=datetime.now(UTC) + timedelta(hours=1)))
    assert len(client.describe_db_instances()["DBInstances"]) == 1


def test_a_missing_live_instance_or_snapshot_is_named(cloud) -> None:
    client = cloud["rds"]
    with pytest.raises(rds.RestoreRefused, match="'gone' does not exist"):
        rds.restore(client, rds.RestoreRequest(source="gone", into="new", to=_recent()))
    with pytest.raises(rds.RestoreRefused, match="snapshot 'nope' does not exist"):
        rds.restore(client, rds.RestoreRequest(source=LIVE, into="new", snapshot="nope"))


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-30",
        "2026-11-30T14:05:00",
        "2026-11-30 14:05:00Z",
        "yesterday",
        "2026-13-01T00:00:00Z",
        "",
        "1700000000",
    ],
)
def test_times_without_a_zone_or_not_iso_are_refused(text: str) -> None:
    with pytest.raises(BadRestorePoint, match=r"ISO 8601|not a valid"):
        parse_instant(text)


def test_times_with_a_zone_are_read_as_utc() -> None:
    assert parse_instant("2026-11-30T15:05:00+01:00") == datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
    assert parse_instant("2026-11-30T14:05:00.250Z") == datetime(2026, 11, 30, 14, 5, 0, 250000, tzinfo=UTC)


def _proxy_and_secret(cloud: dict[str, Any]) -> str:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(
        Name="gw-prod-app-credentials",
        SecretString=json.dumps(
            {"engine": "postgres", "host": "old.example", "port": 5432, "username": "app", "password": "p"}
        ),
    )["ARN"]
    cloud["rds"].create_db_proxy(
        DBProxyName=PROXY,
        EngineFamily="POSTGRESQL",
        Auth=[{"AuthScheme": "SECRETS", "SecretArn": arn, "IAMAuth": "DISABLED"}],
        RoleArn="arn:aws:iam::123456789012:role/pool",
        VpcSubnetIds=cloud["subnets"],
    )
    cloud["rds"].register_db_proxy_targets(DBProxyName=PROXY, TargetGroupName="default", DBInstanceIdentifiers=[LIVE])
    return arn


def test_the_switch_moves_the_proxy_and_the_credentials_host(cloud) -> None:
    client = cloud["rds"]
    arn = _proxy_and_secret(cloud)
    result = rds.restore(client, rds.RestoreRequest(source=LIVE, into="restored", to=_recent()), wait_delay_s=1)
    rds.switch(client, boto3.client("secretsmanager", region_name=REGION), result, proxy=PROXY, secret_arn=arn)
    targets = client.describe_db_proxy_targets(DBProxyName=PROXY)["Targets"]
    assert [t["RdsResourceId"] for t in targets if t["Type"] == "RDS_INSTANCE"] == ["restored"]
    value = json.loads(
        boto3.client("secretsmanager", region_name=REGION).get_secret_value(SecretId=arn)["SecretString"]
    )
    assert value["host"] == result.address
    assert value["password"] == "p"
    assert result.switched


def test_the_steps_name_the_proxy_the_instances_and_the_stack(cloud) -> None:
    result = rds.restore(cloud["rds"], rds.RestoreRequest(source=LIVE, into="restored", to=_recent()), wait_delay_s=1)
    steps = rds.switch_steps(result, proxy=PROXY, secret_arn="arn:secret", stack="prod")
    assert steps[0].endswith(f"--db-proxy-name {PROXY} --target-group-name default --db-instance-identifiers {LIVE}")
    assert steps[1].endswith("--db-instance-identifiers restored")
    assert any("infra refresh --stack prod" in step for step in steps)


def test_a_protected_stack_needs_its_name_typed_or_confirmed() -> None:
    def ask(answer: str):
        return lambda _: answer

    assert confirm_switch("prod", True, confirm_stack=None, interactive=True, ask_name=ask("prod")) == "typed-name"
    assert confirm_switch("prod", True, confirm_stack="prod", interactive=False, ask_name=ask("")) == "confirm-stack"
    assert confirm_switch("dev", False, confirm_stack=None, interactive=False, ask_name=ask("")) == "switch-flag"
    for kwargs in (
        dict(confirm_stack=None, interactive=True, ask_name=ask("prd")),
        dict(confirm_stack=None, interactive=False, ask_name=ask("prod")),
        dict(confirm_stack="dev", interactive=True, ask_name=ask("prod")),
    ):
        with pytest.raises(ConfirmationRefused, match="nothing was restored or switched"):
            confirm_switch("prod", True, **kwargs)


def _outputs() -> dict[str, StackOutput]:
    return {
        out.DATABASE_INSTANCE: StackOutput(LIVE, False),
        out.PROXY_NAME: StackOutput(PROXY, False),
        out.REGION: StackOutput(REGION, False),
    }


def test_the_command_restores_and_prints_one_json_document(cloud, fake, infra) -> None:
    fake.script("outputs", result=_outputs())
    doc = infra.json("restore", "--stack", "dev", "--to", _recent().isoformat(), "--into", "cmd-restored")
    assert doc["ok"] is True
    assert doc["into"] == "cmd-restored"
    assert doc["switched"] is False
    assert doc["endpoint"]["address"] == _described(cloud["rds"], "cmd-restored")["Endpoint"]["Address"]
    assert any(PROXY in step for step in doc["steps"])


def test_the_command_refuses_a_bad_time_with_exit_2_before_any_cloud_call(fake, infra) -> None:
    result = infra("restore", "--stack", "dev", "--to", "2026-11-30 14:05", "--into", "x", code=2)
    assert "ISO 8601" in result.stderr
    assert fake.calls == []
    infra("restore", "--stack", "dev", "--into", "x", code=2)


def test_switch_on_prod_from_a_script_is_refused_before_restoring(cloud, fake, infra) -> None:
    fake.script("outputs", result=_outputs())
    result = infra("restore", "--stack", "prod", "--to", _recent().isoformat(), "--into", "x", "--switch", code=2)
    assert "protected" in result.stderr
    assert len(cloud["rds"].describe_db_instances()["DBInstances"]) == 1


def test_the_command_switches_a_protected_stack_once_its_name_is_typed(cloud, fake, infra, terminal) -> None:
    arn = _proxy_and_secret(cloud)
    fake.script("outputs", result={**_outputs(), out.DATABASE_SECRET_ARN: StackOutput(arn, False)})
    args = ("restore", "--stack", "prod", "--to", _recent().isoformat(), "--into", "switched", "--switch")
    result = infra(*args, "--json", input="prod\n", code=0)
    # The test runner echoes typed input into stdout; a terminal shows it on the terminal instead.
    doc = json.loads(result.stdout.removeprefix(" prod\n"))
    assert doc["switched"] is True
    assert doc["confirmed_by"] == "typed-name"
    targets = cloud["rds"].describe_db_proxy_targets(DBProxyName=PROXY)["Targets"]
    assert [t["RdsResourceId"] for t in targets if t["Type"] == "RDS_INSTANCE"] == ["switched"]
    refused = infra(*args[:-3], "--into", "other", "--switch", input="prd\n", code=2)
    assert "does not match" in refused.stderr
    assert "other" not in [i["DBInstanceIdentifier"] for i in cloud["rds"].describe_db_instances()["DBInstances"]]
