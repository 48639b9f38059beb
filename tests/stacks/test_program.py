"""The whole program for dev and prod under the strict mock: exposure, encryption, TLS, secrets, protection."""

from __future__ import annotations

import ipaddress
import json
import re

import pytest

from stacks import outputs
from tests.mocks import Recording, recorded

LOCAL_ONLY_OUTPUTS = {"ca_certificate", "database_url", "s3_endpoint", "metrics_url", "prometheus_url"}
"""Output names only the local (embedded) stack exports; in the cloud their values stay in Secrets Manager or AWS."""

FULL = (("databaseObjects", True), ("bastion", True), ("alarmEmail", "ops@example.com"), ("createHostedZone", True))
"""Prod with every optional part switched on."""


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> Recording:
    return recorded(request.param)


@pytest.fixture(scope="module")
def dev() -> Recording:
    return recorded("dev")


@pytest.fixture(scope="module")
def prod() -> Recording:
    return recorded("prod")


@pytest.fixture(scope="module")
def full() -> Recording:
    return recorded("prod", FULL)


def sg(rec: Recording, suffix: str):
    return rec.one("aws:ec2/securityGroup:SecurityGroup", f"-{suffix}-sg")


def sg_id(rec: Recording, suffix: str) -> str:
    return sg(rec, suffix).id


# --- composition -------------------------------------------------------------------------------------


def test_every_resource_is_a_named_child_of_a_groundwork_component(full: Recording) -> None:
    components = {r.urn: r for r in full.resources if not r.custom}
    for r in full.resources:
        if r.type.startswith("pulumi:providers:"):
            continue
        if not r.custom:
            assert r.type.startswith("groundwork:"), r.urn
            assert r.type.count(":") == 2, r.urn
            continue
        parent = components.get(r.parent)
        assert parent is not None, f"{r.urn} is not inside a component"
        assert r.name.startswith(f"{parent.name}-"), f"{r.urn} is not named after {parent.name}"


def test_build_leaves_the_garbage_collector_as_it_found_it() -> None:
    import gc

    from stacks.gc_pause import without_collection_pauses

    assert gc.isenabled()
    with without_collection_pauses():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with without_collection_pauses():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_aws_resources_use_the_explicit_provider_of_the_stack_region(stack: Recording) -> None:
    provider = stack.one("pulumi:providers:aws")
    assert provider["region"] == stack.settings.region
    assert json.loads(provider["defaultTags"])["tags"]["stack"] == stack.settings.stack
    for r in stack.resources:
        if r.custom and r.type.startswith("aws:"):
            assert r.provider.startswith(provider.urn), f"{r.urn} uses {r.provider}"


def test_program_uses_no_invoke_outside_the_known_set(full: Recording) -> None:
    tokens = {token for token, _ in full.invokes}
    assert tokens <= {
        "aws:index/getAvailabilityZones:getAvailabilityZones",
        "aws:index/getCallerIdentity:getCallerIdentity",
        "aws:route53/getZone:getZone",
        "aws:ecr/getAuthorizationToken:getAuthorizationToken",
        "aws:ssm/getParameter:getParameter",
        "aws:secretsmanager/getSecretVersion:getSecretVersion",
    }
    assert "aws:route53/getZone:getZone" not in tokens, "a created zone must not also be looked up"


def test_exports_cover_every_declared_output_name(stack: Recording) -> None:
    names = {v for k, v in vars(outputs).items() if k.isupper() and isinstance(v, str)}
    assert set(stack.exports) <= names, set(stack.exports) - names
    missing = names - set(stack.exports)
    assert missing <= LOCAL_ONLY_OUTPUTS, f"the cloud program does not export {missing - LOCAL_ONLY_OUTPUTS}"
    s = stack.settings
    assert stack.exports[outputs.SERVICE_URL] == f"https://{s.host_name}"
    assert stack.exports[outputs.HTTP_URL] == f"http://{s.host_name}"
    pool = stack.one("aws:cognito/userPool:UserPool")
    clients = {c.name.rsplit("-", 1)[1]: c.id for c in stack.of_type("aws:cognito/userPoolClient:UserPoolClient")}
    issuer = f"https://cognito-idp.{s.region}.amazonaws.com/{pool.id}"
    assert stack.exports[outputs.JWT_ISSUER] == issuer
    assert stack.exports[outputs.JWKS_URL] == f"{issuer}/.well-known/jwks.json"
    assert stack.exports[outputs.USER_POOL_ID] == pool.id
    assert stack.exports[outputs.APP_CLIENT_ID] == clients["app"]
    assert stack.exports[outputs.MACHINE_CLIENT_ID] == clients["machine"]
    assert stack.exports[outputs.JWT_AUDIENCE] == f"{clients['app']},{clients['machine']}"
    assert stack.exports[outputs.TOKEN_ENDPOINT].endswith(f".auth.{s.region}.amazoncognito.com/oauth2/token")
    assert stack.exports[outputs.REGION] == s.region
    dashboard = stack.one("aws:cloudwatch/dashboard:Dashboard")
    assert stack.exports[outputs.DASHBOARD_URL] == (
        f"https://{s.region}.console.aws.amazon.com/cloudwatch/home?region={s.region}"
        f"#dashboards/dashboard/{dashboard['dashboardName']}"
    )
    assert stack.exports[outputs.PROXY_ENDPOINT] == stack.one("aws:rds/proxy:Proxy").state["endpoint"]
    assert stack.exports[outputs.LOAD_BALANCER_ARN] == stack.one("aws:lb/loadBalancer:LoadBalancer").state["arn"]
    assert (
        stack.exports[outputs.TARGET_GROUP_ARN] == stack.one("aws:lb/targetGroup:TargetGroup", "-web-tg").state["arn"]
    )
    alternate = stack.one("aws:lb/targetGroup:TargetGroup", "-web-tg-alt").state["arn"]
    assert stack.exports[outputs.ALTERNATE_TARGET_GROUP_ARN] == alternate != stack.exports[outputs.TARGET_GROUP_ARN]
    assert stack.exports[outputs.CERTIFICATE_ARN] == stack.one("aws:acm/certificate:Certificate").state["arn"]
    assert stack.exports[outputs.ZONE_ID] == "Z0MOCKZONE"
    assert stack.exports[outputs.TASK_DEFINITION_ARN].endswith(":1")
    assert stack.exports[outputs.DASHBOARD_NAME] == dashboard["dashboardName"]
    alarms = stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert sorted(stack.exports[outputs.ALARM_NAMES]) == sorted(a.state["name"] for a in alarms)
    groups = stack.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert sorted(stack.exports[outputs.LOG_GROUPS]) == sorted(g["name"] for g in groups)


def test_data_resources_report_their_protection(stack: Recording) -> None:
    data = stack.exports[outputs.DATA_RESOURCES]
    kinds = sorted(d["kind"] for d in data)
    kinds_expected = ["cognito-user-pool", "elasticache-replication-group", "rds-instance", "s3-bucket", "s3-bucket"]
    assert kinds == [*kinds_expected, "secret"]
    assert {d["protected"] for d in data} == {stack.settings.protect}
    instance = stack.one("aws:rds/instance:Instance")
    assert {"kind": "rds-instance", "name": instance.state["identifier"], "protected": stack.settings.protect} in data


def test_dev_and_prod_differ_as_documented(dev: Recording, prod: Recording) -> None:
    counts_dev, counts_prod = dev.counts(), prod.counts()
    assert counts_dev["aws:ec2/natGateway:NatGateway"] == 1
    assert counts_prod["aws:ec2/natGateway:NatGateway"] == 3
    assert counts_dev["aws:ec2/subnet:Subnet"] == 6
    assert counts_prod["aws:ec2/subnet:Subnet"] == 9
    assert dev.exports[outputs.SERVICE_HOST] == "api.dev.example.com"
    assert prod.exports[outputs.SERVICE_HOST] == "api.example.com"
    assert dev.one("aws:ecs/service:Service", "-api-service")["desiredCount"] == 1
    assert prod.one("aws:ecs/service:Service", "-api-service")["desiredCount"] == 3


# --- network -----------------------------------------------------------------------------------------


def test_only_the_load_balancer_is_open_to_the_internet(full: Recording) -> None:
    alb = sg_id(full, "alb")
    nat_addresses = {f"{eip.state['publicIp']}/32" for eip in full.of_type("aws:ec2/eip:Eip") if "-nat-" in eip.name}
    for rule in full.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        open_cidr = rule.get("cidrIpv4") == "0.0.0.0/0" or rule.get("cidrIpv6") == "::/0"
        if rule["securityGroupId"] == alb and rule["fromPort"] == 8443.0:
            assert rule["cidrIpv4"] in nat_addresses, f"{rule.urn}: the test port admits the stack's NAT only"
            assert not rule.get("cidrIpv6"), rule.urn
        elif rule["securityGroupId"] == alb:
            assert open_cidr, rule.urn
            assert rule["fromPort"] == rule["toPort"], rule.urn
            assert rule["fromPort"] in (80.0, 443.0), rule.urn
        else:
            assert not rule.get("cidrIpv4"), f"{rule.urn} admits a CIDR"
            assert not rule.get("cidrIpv6"), f"{rule.urn} admits a CIDR"
            assert rule.get("referencedSecurityGroupId"), f"{rule.urn} must reference a security group"
    ports = sorted(
        (r["fromPort"], "v6" if r.get("cidrIpv6") else "v4")
        for r in full.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r["securityGroupId"] == alb and r["fromPort"] != 8443.0
    )
    assert ports == [(80.0, "v4"), (80.0, "v6"), (443.0, "v4"), (443.0, "v6")]
    test_port = [r for r in full.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
                 if r["securityGroupId"] == alb and r["fromPort"] == 8443.0]  # fmt: skip
    assert len(test_port) == len(nat_addresses) > 0, "one rule per NAT gateway address"


def test_security_groups_chain_alb_service_proxy_database(full: Recording) -> None:
    names = ("alb", "service", "proxy", "database", "bastion", "rotation", "worker", "cache")
    ids = {name: sg_id(full, name) for name in names}
    sources: dict[str, set[tuple[str, float]]] = {}
    for rule in full.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        target = next(k for k, v in ids.items() if v == rule["securityGroupId"])
        source = next((k for k, v in ids.items() if v == rule.get("referencedSecurityGroupId")), "internet")
        sources.setdefault(target, set()).add((source, rule["fromPort"]))
    assert sources["service"] == {("alb", 8000.0)}
    assert sources["proxy"] == {("service", 5432.0), ("worker", 5432.0)}
    assert sources["cache"] == {("service", 6379.0), ("worker", 6379.0)}
    assert "worker" not in sources, "workers accept no inbound traffic"
    assert sources["database"] == {("proxy", 5432.0), ("bastion", 5432.0), ("rotation", 5432.0)}
    assert "bastion" not in sources, "the bastion accepts no inbound traffic"
    assert "rotation" not in sources, "the rotation function accepts no inbound traffic"


def test_vpc_flow_logs_go_to_the_log_bucket(stack: Recording) -> None:
    flow = stack.one("aws:ec2/flowLog:FlowLog")
    logs = stack.one("aws:s3/bucket:Bucket", "-logs").state["arn"]
    assert flow["trafficType"] == "ALL", flow.urn
    assert flow["logDestinationType"] == "s3", flow.urn
    assert flow["logDestination"] == f"{logs}/vpc/", flow.urn
    assert flow["vpcId"] == stack.one("aws:ec2/vpc:Vpc").id
    policy = stack.one("aws:s3/bucketPolicy:BucketPolicy", "-logs-policy")
    assert policy.urn in flow.dependencies, f"{flow.urn} must wait for the log bucket policy"
    statements = {st["Sid"]: st for st in json.loads(policy["policy"])["Statement"]}
    write = statements["VpcFlowLogsWrite"]
    assert write["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert write["Resource"] == f"{logs}/vpc/AWSLogs/123456789012/*"


def test_default_security_group_is_emptied(stack: Recording) -> None:
    default = stack.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.get("ingress", []) == [], default.urn
    assert default.get("egress", []) == [], default.urn


def test_subnets_are_disjoint_and_private_ones_never_map_public_ips(stack: Recording) -> None:
    subnets = stack.of_type("aws:ec2/subnet:Subnet")
    networks = [ipaddress.ip_network(s["cidrBlock"]) for s in subnets]
    vpc = ipaddress.ip_network(stack.one("aws:ec2/vpc:Vpc")["cidrBlock"])
    for subnet, net in zip(subnets, networks, strict=True):
        assert net.subnet_of(vpc), subnet.urn
        assert subnet.get("mapPublicIpOnLaunch") is False, subnet.urn
    for i, a in enumerate(networks):
        for b in networks[i + 1 :]:
            assert not a.overlaps(b)
    zones = {s["availabilityZone"] for s in subnets}
    assert len(zones) == stack.settings.availability_zones


def test_database_subnets_have_no_route_out(stack: Recording) -> None:
    tables = {r.name: r for r in stack.of_type("aws:ec2/routeTable:RouteTable")}
    database_table = next(t for name, t in tables.items() if name.endswith("-database-rt"))
    table_id = database_table.id
    routes = stack.of_type("aws:ec2/route:Route")
    assert all(r["routeTableId"] != table_id for r in routes)
    private_routes = [r for r in routes if "-private-" in r.name]
    assert private_routes
    assert all(r.get("natGatewayId") for r in private_routes)


# --- database ----------------------------------------------------------------------------------------


def test_database_is_private_encrypted_and_tls_only(stack: Recording) -> None:
    db = stack.one("aws:rds/instance:Instance")
    assert db["storageEncrypted"] is True, db.urn
    assert db.get("publiclyAccessible") is False, db.urn
    assert db["manageMasterUserPassword"] is True, db.urn
    assert "password" not in db.inputs, db.urn
    assert db["username"] not in ("postgres", "admin"), db.urn
    assert db["autoMinorVersionUpgrade"] is True, db.urn
    assert db["performanceInsightsEnabled"] is True, db.urn
    assert "postgresql" in db["enabledCloudwatchLogsExports"], db.urn
    assert db["engine"] == "postgres"
    assert db["engineVersion"] == stack.settings.db_engine_version
    params = stack.one("aws:rds/parameterGroup:ParameterGroup")
    assert db["parameterGroupName"] == params.state["name"], db.urn
    assert params["family"] == f"postgres{stack.settings.db_engine_version}"
    values = {p["name"]: p["value"] for p in params["parameters"]}
    assert values["rds.force_ssl"] == "1", params.urn
    # Passwords in CREATE/ALTER ROLE and users' data in bind parameters must not reach the exported logs.
    assert values["log_statement"] not in ("ddl", "mod", "all"), params.urn
    assert values["log_parameter_max_length"] == "0", params.urn
    subnet_group = stack.one("aws:rds/subnetGroup:SubnetGroup")
    database_subnets = [s.id for s in stack.of_type("aws:ec2/subnet:Subnet") if "-database-" in s.name]
    assert sorted(subnet_group["subnetIds"]) == sorted(database_subnets), subnet_group.urn
    assert db["vpcSecurityGroupIds"] == [sg_id(stack, "database")]


def test_database_advisory_controls(stack: Recording) -> None:
    db = stack.one("aws:rds/instance:Instance")
    assert db["monitoringInterval"] > 0, db.urn
    assert db["monitoringRoleArn"].endswith(stack.one("aws:iam/role:Role", "-db-monitoring-role").state["name"])
    assert db["iamDatabaseAuthenticationEnabled"] is True, db.urn
    assert db["copyTagsToSnapshot"] is True, db.urn
    assert db["storageType"] == "gp3", db.urn
    assert db["maxAllocatedStorage"] == stack.settings.db_max_allocated_storage_gb, db.urn
    assert db["performanceInsightsRetentionPeriod"] == stack.settings.db_performance_insights_retention_days


def test_exported_database_logs_have_retention(stack: Recording) -> None:
    db = stack.one("aws:rds/instance:Instance")
    groups = {g["name"]: g for g in stack.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for log in db["enabledCloudwatchLogsExports"]:
        group = groups[f"/aws/rds/instance/{db['identifier']}/{log}"]
        assert group["retentionInDays"] == stack.settings.log_retention_days, group.urn
        assert group.urn in db.dependencies, f"{db.urn} must wait for {group.urn}"


def test_every_log_group_has_retention(stack: Recording) -> None:
    for group in stack.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert group["retentionInDays"] >= 1, group.urn


def test_database_protection_follows_settings(dev: Recording, prod: Recording) -> None:
    p = prod.one("aws:rds/instance:Instance")
    assert p.protect, p.urn
    assert p["deletionProtection"], p.urn
    assert p["multiAz"], p.urn
    assert p["skipFinalSnapshot"] is False, p.urn
    suffix = prod.one("random:index/randomId:RandomId", "-final-snapshot-suffix").state["hex"]
    assert p["finalSnapshotIdentifier"] == f"gw-prod-db-final-{suffix}", p.urn
    assert re.fullmatch(r"[0-9a-f]{8}", suffix), suffix
    assert p["backupRetentionPeriod"] >= 7, p.urn
    d = dev.one("aws:rds/instance:Instance")
    assert not d.protect, d.urn
    assert not d["deletionProtection"], d.urn
    assert not d["multiAz"], d.urn
    assert d["skipFinalSnapshot"] is True, d.urn
    assert d["backupRetentionPeriod"] >= 1, d.urn


def test_stateful_resources_are_protected_in_prod_only(dev: Recording, prod: Recording) -> None:
    stateful = ("aws:rds/instance:Instance", "aws:s3/bucket:Bucket")
    for token in stateful:
        assert all(r.protect for r in prod.of_type(token)), token
        assert not any(r.protect for r in dev.of_type(token)), token
    for bucket in prod.of_type("aws:s3/bucket:Bucket"):
        assert bucket.get("forceDestroy") is False, bucket.urn


# --- pooling -----------------------------------------------------------------------------------------


def test_proxy_requires_tls_and_reads_only_its_secret(stack: Recording) -> None:
    proxy = stack.one("aws:rds/proxy:Proxy")
    assert proxy["requireTls"] is True, proxy.urn
    assert proxy.get("debugLogging") is False, proxy.urn
    app_secret = stack.one("aws:secretsmanager/secret:Secret", "-app-credentials")
    assert [a["secretArn"] for a in proxy["auths"]] == [app_secret.state["arn"]]
    assert all(a["authScheme"] == "SECRETS" for a in proxy["auths"])
    policy = json.loads(stack.one("aws:iam/rolePolicy:RolePolicy", "-pool-role-policy")["policy"])
    resources = {s["Resource"] for s in policy["Statement"] if s["Sid"] != "UseSecretsKey"}
    assert resources == {app_secret.state["arn"]}
    # On a protected stack the secret is on the stack's secrets key, which the proxy may decrypt with, only that.
    key_use = [s for s in policy["Statement"] if s["Sid"] == "UseSecretsKey"]
    assert [s["Resource"] for s in key_use] == ([app_secret["kmsKeyId"]] if stack.settings.protect else [])
    assert all(s["Action"] == ["kms:Decrypt"] for s in key_use)
    group = stack.one("aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup")
    pool = group["connectionPoolConfig"]
    assert pool["maxConnectionsPercent"] == stack.settings.proxy_max_connections_percent
    assert pool["connectionBorrowTimeout"] == stack.settings.proxy_borrow_timeout_seconds
    target = stack.one("aws:rds/proxyTarget:ProxyTarget")
    assert target["dbInstanceIdentifier"] == stack.one("aws:rds/instance:Instance").state["identifier"]


def test_service_connects_through_the_proxy_with_iam_not_a_password(stack: Recording) -> None:
    proxy = stack.one("aws:rds/proxy:Proxy")
    instance = stack.one("aws:rds/instance:Instance").state["address"]
    env = {e["name"]: e["value"] for e in container(stack)["environment"]}
    url = env["DATABASE_URL"]
    assert url == f"postgresql://app@{proxy.state['endpoint']}:5432/app?sslmode=verify-full&sslrootcert=system"
    assert instance not in url
    assert env["DATABASE_IAM_AUTH"] == "true"
    assert env["AWS_REGION"] == stack.settings.region
    assert stack.exports["database_url"] == url
    (auth,) = proxy["auths"]
    assert auth["iamAuth"] == "REQUIRED"
    assert auth["secretArn"] == stack.one("aws:secretsmanager/secret:Secret", "-app-credentials").state["arn"]
    # The task role may sign in as exactly this user on exactly this proxy.
    task_policy = json.loads(stack.one("aws:iam/rolePolicy:RolePolicy", "-api-task-policy")["policy"])
    (connect,) = [s for s in task_policy["Statement"] if s["Action"] == "rds-db:connect"]
    proxy_id = proxy.state["arn"].rpartition(":")[2]
    assert connect["Resource"] == f"arn:aws:rds-db:{stack.settings.region}:123456789012:dbuser:{proxy_id}/app"


def test_both_secrets_rotate_within_the_settings_interval(stack: Recording) -> None:
    rotations = {r["secretId"]: r for r in stack.of_type("aws:secretsmanager/secretRotation:SecretRotation")}
    secrets = {s.state["arn"]: s.name for s in stack.of_type("aws:secretsmanager/secret:Secret")}
    assert set(rotations) == set(secrets), "every secret the program declares rotates"
    for rotation in rotations.values():
        assert rotation["rotationRules"]["automaticallyAfterDays"] == stack.settings.secret_rotation_days
    # The database password: AWS's single-user PostgreSQL rotation function, in the private subnets.
    app = stack.one("aws:serverlessrepository/cloudFormationStack:CloudFormationStack")
    assert app["applicationId"].endswith("applications/SecretsManagerRDSPostgreSQLRotationSingleUser")
    assert app["parameters"]["vpcSecurityGroupIds"] == sg_id(stack, "rotation")
    private = {s.id for s in stack.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name}
    assert set(app["parameters"]["vpcSubnetIds"].split(",")) == private
    credentials = stack.one("aws:secretsmanager/secret:Secret", "-app-credentials").state["arn"]
    assert rotations[credentials]["rotationLambdaArn"] == app.state["outputs"]["RotationLambdaARN"]
    # Tokens are verified against the issuer's public keys: no signing secret, no function rotating one.
    assert list(secrets.values()) == [stack.one("aws:secretsmanager/secret:Secret", "-app-credentials").name]
    functions = [f.name for f in stack.of_type("aws:lambda/function:Function")]
    assert functions == [f"gw-{stack.settings.stack}-release-check"], "the release check is the only function"


def test_rotation_schedules_wait_for_the_first_values_and_not_for_the_deploy(stack: Recording) -> None:
    by_secret = {r["secretId"]: r for r in stack.of_type("aws:secretsmanager/secretRotation:SecretRotation")}
    credentials = stack.one("aws:secretsmanager/secret:Secret", "-app-credentials").state["arn"]
    database_schedule = by_secret[credentials]
    # Not in the middle of the first deployment: the first rotation comes one interval later.
    assert database_schedule["rotateImmediately"] is False, database_schedule.urn
    credentials_value = stack.one("aws:secretsmanager/secretVersion:SecretVersion", "-app-credentials-value").urn
    instance = stack.one("aws:rds/instance:Instance").urn
    assert {credentials_value, instance} <= set(database_schedule.dependencies)


def test_with_database_objects_the_rotation_waits_for_the_login_role() -> None:
    rec = recorded("prod", (("databaseObjects", True),))
    credentials = rec.one("aws:secretsmanager/secret:Secret", "-app-credentials").state["arn"]
    (schedule,) = [
        r for r in rec.of_type("aws:secretsmanager/secretRotation:SecretRotation") if r["secretId"] == credentials
    ]
    # Depending on the component means depending on what it declares, the login role among them.
    role = rec.one("postgresql:index/role:Role", "-app-role").urn
    assert role in schedule.dependencies


def test_rotation_owns_secret_values_and_the_login_password_after_the_first(stack: Recording) -> None:
    for version in stack.of_type("aws:secretsmanager/secretVersion:SecretVersion"):
        assert "secretString" in version.ignore_changes, version.urn
    credentials = json.loads(
        stack.one("aws:secretsmanager/secretVersion:SecretVersion", "-app-credentials-value")["secretString"]
    )
    assert set(credentials) == {"engine", "host", "port", "dbname", "username", "password"}
    assert credentials["host"] == stack.one("aws:rds/instance:Instance").state["address"]


# --- storage -----------------------------------------------------------------------------------------


def _for_bucket(rec: Recording, token: str, bucket_id: str) -> list:
    return [r for r in rec.of_type(token) if r.get("bucket") == bucket_id]


def test_every_bucket_is_private_encrypted_versioned_and_tls_only(stack: Recording) -> None:
    for bucket in stack.of_type("aws:s3/bucket:Bucket"):
        bid = bucket.state["bucket"]
        (block,) = _for_bucket(stack, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bid)
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            assert block[flag] is True, f"{bucket.urn}: {flag}"
        (sse,) = _for_bucket(
            stack, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", bid
        )
        algorithm = sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
        assert algorithm in ("aws:kms", "AES256"), bucket.urn
        (versioning,) = _for_bucket(stack, "aws:s3/bucketVersioning:BucketVersioning", bid)
        assert versioning["versioningConfiguration"]["status"] == "Enabled", bucket.urn
        (ownership,) = _for_bucket(stack, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", bid)
        assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced", bucket.urn
        assert _for_bucket(stack, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bid), bucket.urn
        (policy,) = _for_bucket(stack, "aws:s3/bucketPolicy:BucketPolicy", bid)
        statements = json.loads(policy["policy"])["Statement"]
        deny = [s for s in statements if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in deny), bucket.urn
        assert all(s.get("Principal") != "*" for s in statements if s["Effect"] == "Allow"), bucket.urn
        assert "acl" not in bucket.inputs, bucket.urn
    assert stack.one("aws:s3/bucket:Bucket", "-app").get("forceDestroy") is stack.settings.bucket_force_destroy


def test_app_bucket_has_its_own_key_cors_from_settings_and_expires_incomplete_uploads(stack: Recording) -> None:
    bucket = stack.one("aws:s3/bucket:Bucket", "-app").state["bucket"]
    (sse,) = _for_bucket(
        stack, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", bucket
    )
    key = stack.one("aws:kms/key:Key", "-app-key")
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == key.state["arn"]
    assert key["enableKeyRotation"] is True, key.urn
    (lifecycle,) = _for_bucket(stack, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket)
    assert all(r["abortIncompleteMultipartUpload"]["daysAfterInitiation"] >= 1 for r in lifecycle["rules"])
    rules = _for_bucket(stack, "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration", bucket)
    origins = [o for o in stack.settings.cors_origins.split(",") if o]
    if not origins:
        assert rules == []
        return
    (cors,) = rules
    assert cors["corsRules"][0]["allowedOrigins"] == origins
    assert set(cors["corsRules"][0]["allowedMethods"]) == {"GET", "POST"}


def test_app_bucket_logs_to_the_log_bucket(stack: Recording) -> None:
    logging = stack.one("aws:s3/bucketLogging:BucketLogging")
    assert logging["bucket"] == stack.one("aws:s3/bucket:Bucket", "-app").state["bucket"]
    assert logging["targetBucket"] == stack.one("aws:s3/bucket:Bucket", "-logs").state["bucket"]


# --- load balancer, certificate, DNS -----------------------------------------------------------------


def test_load_balancer_is_hardened(stack: Recording) -> None:
    alb = stack.one("aws:lb/loadBalancer:LoadBalancer")
    assert alb["dropInvalidHeaderFields"] is True, alb.urn
    assert alb["desyncMitigationMode"] in ("defensive", "strictest"), alb.urn
    logs = alb["accessLogs"]
    assert logs["enabled"] is True
    assert logs["bucket"] == stack.one("aws:s3/bucket:Bucket", "-logs").state["bucket"]
    assert alb.get("internal") is False
    assert alb["ipAddressType"] == "dualstack"
    assert len(alb["subnets"]) >= 2
    assert alb["enableDeletionProtection"] is stack.settings.alb_deletion_protection
    log_policy = stack.one("aws:s3/bucketPolicy:BucketPolicy", "-logs-policy")
    assert log_policy.urn in alb.dependencies, f"{alb.urn} must wait for the log bucket policy"


def test_http_only_redirects_and_https_uses_tls13_with_an_issued_certificate(stack: Recording) -> None:
    listeners = {r["port"]: r for r in stack.of_type("aws:lb/listener:Listener")}
    assert set(listeners) == {80.0, 443.0, 8443.0}, "HTTP, HTTPS and the release test listener"
    http, https = listeners[80.0], listeners[443.0]
    for listener in (https, listeners[8443.0]):
        assert listener["sslPolicy"].startswith("ELBSecurityPolicy-TLS13-"), listener.urn
        assert listener["certificateArn"] == https["certificateArn"], listener.urn
    assert [a["type"] for a in http["defaultActions"]] == ["redirect"], http.urn
    redirect = http["defaultActions"][0]["redirect"]
    assert redirect["protocol"] == "HTTPS", http.urn
    assert redirect["statusCode"] == "HTTP_301", http.urn
    assert https["protocol"] == "HTTPS", https.urn
    assert https["sslPolicy"].startswith("ELBSecurityPolicy-TLS13-"), https.urn
    validation = stack.one("aws:acm/certificateValidation:CertificateValidation")
    assert https["certificateArn"] == validation.state["certificateArn"]
    cert = stack.one("aws:acm/certificate:Certificate")
    assert cert["validationMethod"] == "DNS"
    assert cert["domainName"] == stack.settings.host_name
    assert cert["keyAlgorithm"] in ("RSA_2048", "EC_prime256v1", "EC_secp384r1")
    assert cert["options"]["certificateTransparencyLoggingPreference"] == "ENABLED"
    record = stack.one("aws:route53/record:Record", "-validation")
    assert validation["validationRecordFqdns"] == [record.state["fqdn"]]


def test_metrics_are_not_served_through_the_load_balancer(stack: Recording) -> None:
    https = next(r for r in stack.of_type("aws:lb/listener:Listener") if r["port"] == 443.0)
    rule = stack.one("aws:lb/listenerRule:ListenerRule", "-hide-metrics")
    assert rule["listenerArn"] == https.state["arn"], rule.urn
    assert rule["conditions"] == [{"pathPattern": {"values": ["/metrics", "/metrics/*"]}}], rule.urn
    assert rule["actions"][0]["type"] == "fixed-response", rule.urn
    assert rule["actions"][0]["fixedResponse"]["statusCode"] == "404", rule.urn


def test_target_group_checks_liveness(stack: Recording) -> None:
    groups = stack.of_type("aws:lb/targetGroup:TargetGroup")
    assert sorted(tg.name.rsplit("-web-", 1)[1] for tg in groups) == ["tg", "tg-alt"], "blue's and green's"
    for tg in groups:
        check = tg["healthCheck"]
        assert check["enabled"] is True, tg.urn
        assert check["path"] == "/livez", tg.urn
        assert check["matcher"] == "200", tg.urn
        assert tg["port"] == 8000
        assert tg["targetType"] == "ip"
        assert tg["deregistrationDelay"] <= 30, tg.urn


def test_alias_records_point_at_the_load_balancer(stack: Recording) -> None:
    alb = stack.one("aws:lb/loadBalancer:LoadBalancer").state
    records = [r for r in stack.of_type("aws:route53/record:Record") if r.get("aliases")]
    assert sorted(r["type"] for r in records) == ["A", "AAAA"]
    for r in records:
        assert r["name"] == stack.settings.host_name
        assert r["aliases"][0]["name"] == alb["dnsName"]
        assert r["aliases"][0]["zoneId"] == alb["zoneId"]
        assert r["zoneId"] == "Z0MOCKZONE"


def test_created_zone_is_protected_and_used(full: Recording) -> None:
    zone = full.one("aws:route53/zone:Zone")
    assert zone.protect
    assert zone["name"] == "example.com"
    assert all(r["zoneId"] == "Z0MOCKCREATED" for r in full.of_type("aws:route53/record:Record"))


# --- container service -------------------------------------------------------------------------------


def container(rec: Recording) -> dict:
    return json.loads(rec.one("aws:ecs/taskDefinition:TaskDefinition", "-api-task")["containerDefinitions"])[0]


def test_service_runs_privately_and_rolls_back(stack: Recording) -> None:
    service = stack.one("aws:ecs/service:Service", "-api-service")
    network = service["networkConfiguration"]
    assert network["assignPublicIp"] is False, service.urn
    assert network["securityGroups"] == [sg_id(stack, "service")]
    private = [s.id for s in stack.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name]
    assert sorted(network["subnets"]) == sorted(private), service.urn
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}, service.urn
    assert service["waitForSteadyState"] is False, "`infra up` follows the blue/green deployment after its migration"
    assert service["healthCheckGracePeriodSeconds"] > 0
    assert service["launchType"] == "FARGATE"
    assert "platformVersion" not in service.inputs
    assert service["loadBalancers"][0]["containerPort"] == 8000
    assert "desiredCount" in service.ignore_changes
    listener = next(r for r in stack.of_type("aws:lb/listener:Listener") if r["port"] == 443.0)
    assert listener.urn in service.dependencies, f"{service.urn} must wait for the HTTPS listener"
    for rule in ("-web-production", "-web-test-route"):
        urn = stack.one("aws:lb/listenerRule:ListenerRule", rule).urn
        assert urn in service.dependencies, f"{service.urn} must wait for {rule}: ECS needs its groups attached"
    cluster = stack.one("aws:ecs/cluster:Cluster")
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"], cluster.urn


def test_container_is_locked_down_and_holds_no_secret(stack: Recording) -> None:
    c = container(stack)
    assert c["readonlyRootFilesystem"] is True
    assert c["privileged"] is False
    assert c["user"].split(":")[0] not in ("0", "root")
    assert c["linuxParameters"]["capabilities"]["drop"] == ["ALL"]
    assert {"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False} in c["mountPoints"]
    assert c["portMappings"][0]["containerPort"] == 8000
    assert "/livez" in " ".join(c["healthCheck"]["command"])
    env = {e["name"]: e["value"] for e in c["environment"]}
    assert set(env) == {
        "PORT",
        "JWT_ISSUER",
        "JWT_JWKS_URL",
        "JWT_AUDIENCE",
        "JWT_USER_SCOPE",
        "JWT_MAX_LIFETIME",
        "DATABASE_SSLMODE",
        "DATABASE_URL",
        "DATABASE_IAM_AUTH",
        "AWS_REGION",
        "APP_VERSION",
        "WORKERS",
        "KEEPALIVE_SECONDS",
        "CACHE_URL",
        "CACHE_USERNAME",
        "CACHE_IAM_AUTH",
        "CACHE_TTL_SECONDS",
        "SUBJECT_RATE_LIMIT",
        "SUBJECT_RATE_WINDOW_SECONDS",
        "FILES_BUCKET",
        "FILES_PREFIX",
    }
    assert env["FILES_BUCKET"] == stack.one("aws:s3/bucket:Bucket", "-app").state["bucket"]
    assert env["FILES_PREFIX"] == "users/"
    assert env["WORKERS"] == str(max(1, stack.settings.service_cpu // 512))
    # The API keeps idle connections longer than the load balancer does, so it never closes one about to be reused.
    load_balancer = stack.one("aws:lb/loadBalancer:LoadBalancer")
    assert int(env["KEEPALIVE_SECONDS"]) > load_balancer["idleTimeout"]
    assert env["PORT"] == "8000"
    assert env["DATABASE_SSLMODE"] == "verify-full"
    assert env["JWT_ISSUER"] == stack.exports[outputs.JWT_ISSUER]
    assert env["JWT_JWKS_URL"] == stack.exports[outputs.JWKS_URL]
    assert env["JWT_AUDIENCE"] == stack.exports[outputs.JWT_AUDIENCE]
    assert env["JWT_USER_SCOPE"] == "aws.cognito.signin.user.admin"
    assert env["JWT_MAX_LIFETIME"] == str(stack.settings.access_token_minutes * 60)
    assert env["APP_VERSION"].startswith("sha-")
    assert c["secrets"] == [], "the API verifies tokens with the issuer's public keys and holds no secret"
    for value in env.values():
        assert "m0ck" not in value
    log = c["logConfiguration"]
    assert log["logDriver"] == "awslogs"
    group = stack.one("aws:cloudwatch/logGroup:LogGroup", "-api-logs")
    assert log["options"]["awslogs-group"] == group["name"]
    assert group["retentionInDays"] == stack.settings.log_retention_days
    task = stack.one("aws:ecs/taskDefinition:TaskDefinition", "-api-task")
    assert task["executionRoleArn"] != task["taskRoleArn"]
    assert task["volumes"] == [{"name": "tmp"}]
    assert task["cpu"] == str(stack.settings.service_cpu)
    assert task["memory"] == str(stack.settings.service_memory)


def test_image_is_built_from_app_image_and_tagged_by_content(stack: Recording) -> None:
    from stacks.content_tag import content_tag
    from stacks.program import APP_DIR

    image = stack.one("docker-build:index:Image")
    tag = content_tag(APP_DIR)
    repo = stack.one("aws:ecr/repository:Repository").state["repositoryUrl"]
    assert image["tags"] == [f"{repo}:{tag}"]
    assert image["push"] is True
    assert image["context"]["location"] == str(APP_DIR)
    assert image["dockerfile"]["location"] == str(APP_DIR / "Dockerfile")
    assert image["platforms"] == ["linux/amd64"]
    assert container(stack)["image"] == image.state["ref"]
    assert "@sha256:" in image.state["ref"]
    assert "registries" in image.secret_inputs, f"{image.urn}: the registry password must stay secret"


def test_repository_scans_and_prod_tags_are_immutable(dev: Recording, prod: Recording) -> None:
    for rec, mutability in ((dev, "MUTABLE"), (prod, "IMMUTABLE")):
        repo = rec.one("aws:ecr/repository:Repository")
        assert repo["imageScanningConfiguration"]["scanOnPush"] is True, repo.urn
        assert repo["imageTagMutability"] == mutability, repo.urn
        rules = json.loads(rec.one("aws:ecr/lifecyclePolicy:LifecyclePolicy")["policy"])["rules"]
        assert rules[-1]["selection"]["countNumber"] == rec.settings.ecr_keep_images


def test_autoscaling_on_cpu_and_requests_per_target(stack: Recording) -> None:
    target = stack.one("aws:appautoscaling/target:Target", "-api-scaling-target")
    assert target["minCapacity"] == stack.settings.service_min_count
    assert target["maxCapacity"] == stack.settings.service_max_count
    specs = {
        policy.name.rsplit("-api-", 1)[1]: policy["targetTrackingScalingPolicyConfiguration"]
        for policy in stack.of_type("aws:appautoscaling/policy:Policy")
        if "-api-" in policy.name
    }
    assert set(specs) == {"scale-cpu", "scale-requests", "scale-requests-alt"}
    cpu = specs["scale-cpu"]["predefinedMetricSpecification"]
    assert cpu == {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}
    assert specs["scale-cpu"]["targetValue"] == stack.settings.autoscaling_cpu_target
    # One request policy per target group: after a release the tasks serve from the other one.
    alb = stack.one("aws:lb/loadBalancer:LoadBalancer").state["arnSuffix"]
    for policy, group in (("scale-requests", "-web-tg"), ("scale-requests-alt", "-web-tg-alt")):
        tg = stack.one("aws:lb/targetGroup:TargetGroup", group).state["arnSuffix"]
        spec = specs[policy]["predefinedMetricSpecification"]
        assert spec == {"predefinedMetricType": "ALBRequestCountPerTarget", "resourceLabel": f"{alb}/{tg}"}, policy
        assert specs[policy]["targetValue"] == stack.settings.autoscaling_requests_per_target, policy


def test_secrets_are_secret_inputs_and_never_exported(stack: Recording) -> None:
    versions = stack.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert len(versions) == 1
    for version in versions:
        assert "secretString" in version.secret_inputs, version.urn
    values = [v["secretString"] for v in versions]
    exported = json.dumps(stack.exports, default=str)
    for value in values:
        assert value not in exported
    for password in stack.of_type("random:index/randomPassword:RandomPassword"):
        assert password.state["result"] not in exported
        assert password["special"] is False, password.urn
    for secret in stack.of_type("aws:secretsmanager/secret:Secret"):
        assert secret["recoveryWindowInDays"] == stack.settings.secret_recovery_window_days, secret.urn


# --- monitoring --------------------------------------------------------------------------------------


def test_alarms_notify_the_topic(stack: Recording) -> None:
    topic = stack.one("aws:sns/topic:Topic")
    key = stack.one("aws:kms/key:Key", "-alarms-key")
    assert topic["kmsMasterKeyId"] == key.state["arn"], topic.urn
    assert key["enableKeyRotation"] is True, key.urn
    publishers = [s for s in json.loads(key["policy"])["Statement"] if s["Sid"] == "CloudWatchAlarms"]
    assert publishers[0]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}, key.urn
    alarms = {r.name.rsplit("-mon-", 1)[1]: r for r in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    own = {"5xx-rate", "latency-p95", "unhealthy-targets", "db-cpu", "db-storage", "proxy-saturation"}
    nodes = [
        m.rsplit("-", 1)[1]
        for m in stack.one("aws:elasticache/replicationGroup:ReplicationGroup").state["memberClusters"]
    ]
    cache = {f"cache-{n}-{what}" for n in nodes for what in ("cpu", "memory", "evictions", "connections")}
    lag = {f"cache-{n}-replication-lag" for n in nodes[1:]}
    backups = {"backup-failed"} | ({"backup-copy-failed"} if stack.settings.backup_copy_region else set())
    assert set(alarms) == own | cache | lag | backups | {"worker-backlog", "waf-blocked"}
    for alarm in alarms.values():
        assert alarm["actionsEnabled"] is True, alarm.urn
        assert alarm["alarmActions"] == [topic.state["arn"]], alarm.urn
    assert alarms["latency-p95"]["threshold"] == pytest.approx(0.2)
    assert alarms["latency-p95"]["extendedStatistic"] == "p95"
    storage_bytes = stack.settings.db_allocated_storage_gb * 1024**3 * 0.1
    assert alarms["db-storage"]["threshold"] == pytest.approx(storage_bytes)
    assert alarms["db-storage"]["comparisonOperator"] == "LessThanThreshold"
    db_id = stack.one("aws:rds/instance:Instance").state["identifier"]
    assert alarms["db-cpu"]["dimensions"] == {"DBInstanceIdentifier": db_id}
    assert alarms["proxy-saturation"]["dimensions"] == {"ProxyName": stack.one("aws:rds/proxy:Proxy").state["name"]}


def test_unhealthy_targets_alarm_and_panel_sum_both_target_groups(stack: Recording) -> None:
    alb = stack.one("aws:lb/loadBalancer:LoadBalancer").state["arnSuffix"]
    groups = {stack.one("aws:lb/targetGroup:TargetGroup", g).state["arnSuffix"] for g in ("-web-tg", "-web-tg-alt")}
    assert len(groups) == 2
    alarm = stack.one("aws:cloudwatch/metricAlarm:MetricAlarm", "-mon-unhealthy-targets")
    queries = alarm["metricQueries"]
    read = [q["metric"] for q in queries if q.get("metric")]
    assert {m["dimensions"]["TargetGroup"] for m in read} == groups
    for metric in read:
        assert (metric["metricName"], metric["stat"], metric["period"]) == ("UnHealthyHostCount", "Maximum", 60)
        assert metric["dimensions"]["LoadBalancer"] == alb
    (total,) = [q for q in queries if q.get("returnData")]
    assert total["expression"] == " + ".join(f"FILL({q['id']}, 0)" for q in queries if q.get("metric"))
    assert (alarm["threshold"], alarm["evaluationPeriods"], alarm["comparisonOperator"]) == (
        0, 3, "GreaterThanThreshold"
    )  # fmt: skip
    body = json.loads(stack.one("aws:cloudwatch/dashboard:Dashboard")["dashboardBody"])
    (panel,) = [w["properties"] for w in body["widgets"] if w["properties"]["title"] == "Targets"]
    by_metric: dict[str, set[str]] = {}
    for row in panel["metrics"]:
        if isinstance(row[0], str):
            dims = dict(zip(row[2:-1:2], row[3:-1:2], strict=True))
            by_metric.setdefault(row[1], set()).add(dims["TargetGroup"])
    assert by_metric == {"HealthyHostCount": groups, "UnHealthyHostCount": groups}
    sums = {row[0]["label"]: row[0]["expression"] for row in panel["metrics"] if isinstance(row[0], dict)}
    assert set(sums) == {"HealthyHostCount", "UnHealthyHostCount"}
    assert sums["UnHealthyHostCount"] == total["expression"]


def test_alarm_email_is_optional_and_secret(prod: Recording, full: Recording) -> None:
    assert prod.of_type("aws:sns/topicSubscription:TopicSubscription") == []
    sub = full.one("aws:sns/topicSubscription:TopicSubscription")
    assert sub["protocol"] == "email"
    assert sub["endpoint"] == "ops@example.com"
    assert "endpoint" in sub.secret_inputs


KNOWN_METRICS = {
    "AWS/ApplicationELB": {
        "RequestCount": {"LoadBalancer"},
        "HTTPCode_Target_4XX_Count": {"LoadBalancer"},
        "HTTPCode_Target_5XX_Count": {"LoadBalancer"},
        "HTTPCode_ELB_4XX_Count": {"LoadBalancer"},
        "HTTPCode_ELB_5XX_Count": {"LoadBalancer"},
        "TargetResponseTime": {"LoadBalancer"},
        "HealthyHostCount": {"LoadBalancer", "TargetGroup"},
        "UnHealthyHostCount": {"LoadBalancer", "TargetGroup"},
    },
    "AWS/ECS": {"CPUUtilization": {"ClusterName", "ServiceName"}, "MemoryUtilization": {"ClusterName", "ServiceName"}},
    "ECS/ContainerInsights": {"RunningTaskCount": {"ClusterName", "ServiceName"}},
    "AWS/RDS": {
        "CPUUtilization": {"DBInstanceIdentifier"},
        "DatabaseConnections": {"DBInstanceIdentifier", "ProxyName"},
        "FreeStorageSpace": {"DBInstanceIdentifier"},
        "ReadLatency": {"DBInstanceIdentifier"},
        "WriteLatency": {"DBInstanceIdentifier"},
        "ClientConnections": {"ProxyName"},
        "DatabaseConnectionsBorrowLatency": {"ProxyName"},
    },
    "AWS/ElastiCache": {name: {"CacheClusterId"} for name in ("ReplicationLag",)}
    | {
        name: {"CacheClusterId"}
        for name in ("EngineCPUUtilization", "DatabaseMemoryUsagePercentage", "CacheHits", "CacheMisses", "Evictions")
    }
    | {"CurrConnections": {"CacheClusterId"}},
    "AWS/WAFV2": {"AllowedRequests": {"WebACL", "Region", "Rule"}, "BlockedRequests": {"WebACL", "Region", "Rule"}},
    "Groundwork/Worker": {"Backlog": {"Service"}},
    "AWS/Backup": {
        name: {"BackupVaultName"}
        for name in ("NumberOfBackupJobsCompleted", "NumberOfBackupJobsFailed", "NumberOfCopyJobsFailed")
    },
}
"""CloudWatch metric names per namespace and the dimensions each accepts (a dimension set is a subset)."""


def _dimension_values(stack: Recording) -> dict[str, set[str]]:
    """Every value each dimension may take in this stack's dashboard."""
    group = stack.one("aws:elasticache/replicationGroup:ReplicationGroup")
    worker = stack.one("groundwork:worker:Worker")
    acl = stack.one("aws:wafv2/webAcl:WebAcl")
    rules = {"ALL", *(rule["visibilityConfig"]["metricName"] for rule in acl["rules"])}
    return {
        "LoadBalancer": {stack.one("aws:lb/loadBalancer:LoadBalancer").state["arnSuffix"]},
        "TargetGroup": {g.state["arnSuffix"] for g in stack.of_type("aws:lb/targetGroup:TargetGroup")},
        "ClusterName": {stack.one("aws:ecs/cluster:Cluster").state["name"]},
        "ServiceName": {s.state["name"] for s in stack.of_type("aws:ecs/service:Service")},
        "DBInstanceIdentifier": {stack.one("aws:rds/instance:Instance").state["identifier"]},
        "ProxyName": {stack.one("aws:rds/proxy:Proxy").state["name"]},
        "CacheClusterId": set(group.state["memberClusters"]),
        "WebACL": {acl["name"]},
        "Region": {stack.settings.region},
        "Rule": rules,
        "Service": {worker.name},
        "BackupVaultName": {stack.one("aws:backup/vault:Vault", "-backup-vault").state["name"]},
    }


def test_dashboard_metrics_exist_and_reference_this_stack(stack: Recording) -> None:
    body = json.loads(stack.one("aws:cloudwatch/dashboard:Dashboard")["dashboardBody"])
    expected = _dimension_values(stack)
    seen: set[tuple[str, str]] = set()
    for widget in body["widgets"]:
        assert widget["type"] == "metric"
        assert widget["properties"]["region"] == stack.settings.region
        assert widget["width"] + widget["x"] <= 24
        for metric in widget["properties"]["metrics"]:
            if isinstance(metric[0], dict):  # metric math over the widget's other rows
                assert set(metric[0]) == {"expression", "label", "id"}, metric
                continue
            namespace, name, *rest = metric
            options = rest.pop() if rest and isinstance(rest[-1], dict) else {}
            assert name in KNOWN_METRICS.get(namespace, {}), f"unknown metric {namespace} {name}"
            dims = dict(zip(rest[::2], rest[1::2], strict=True))
            assert set(dims) <= KNOWN_METRICS[namespace][name] | {"TargetGroup"}, (namespace, name, dims)
            assert dims, f"{namespace} {name} has no dimensions"
            for key, value in dims.items():
                assert value in expected[key], f"{name} {key}={value} is not this stack's {expected[key]}"
            assert options.get("stat")
            seen.add((namespace, name))
    replicas = len(stack.one("aws:elasticache/replicationGroup:ReplicationGroup").state["memberClusters"]) > 1
    for namespace, names in KNOWN_METRICS.items():
        for name in names:
            if name == "ReplicationLag" and not replicas:
                continue
            assert (namespace, name) in seen, f"dashboard lacks {namespace} {name}"
    rows = [m for w in body["widgets"] for m in w["properties"]["metrics"] if not isinstance(m[0], dict)]
    stats = {m[-1]["stat"] for m in rows if m[1] == "TargetResponseTime"}
    assert stats == {"p50", "p95", "p99"}


def test_alarm_metrics_are_known_and_reference_this_stack(stack: Recording) -> None:
    expected = _dimension_values(stack)
    for alarm in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        metrics = [(alarm.get("namespace"), alarm.get("metricName"), alarm.get("dimensions"))]
        if alarm.get("metricQueries"):
            metrics = [
                (q["metric"]["namespace"], q["metric"]["metricName"], q["metric"]["dimensions"])
                for q in alarm["metricQueries"]
                if q.get("metric")
            ]
        for namespace, name, dims in metrics:
            assert name in KNOWN_METRICS[namespace], alarm.urn
            for key, value in dims.items():
                assert value in expected[key], alarm.urn


# --- database objects and bastion --------------------------------------------------------------------


def test_both_stacks_declare_the_database_objects_and_the_bastion(stack: Recording) -> None:
    app = stack.one("postgresql:index/role:Role", "-app-role")
    assert app["login"] is True
    for right in ("superuser", "createDatabase", "createRole"):
        assert app.get(right) is False, f"{app.urn}: {right}"
    assert stack.one("postgresql:index/database:Database")["name"] == stack.settings.database_name
    assert stack.of_type("postgresql:index/grant:Grant")
    assert stack.one("pulumi:providers:postgresql")["host"] == stack.one("aws:rds/instance:Instance").state["address"]
    assert stack.exports[outputs.DATABASE_OBJECTS] is True
    assert stack.exports[outputs.BASTION_INSTANCE_ID] == stack.one("aws:ec2/instance:Instance").id


def test_database_objects_can_be_switched_off() -> None:
    rec = recorded("dev", (("databaseObjects", False),))
    assert not [r for r in rec.resources if "postgresql" in r.type]
    assert "aws:secretsmanager/getSecretVersion:getSecretVersion" not in {t for t, _ in rec.invokes}


def test_database_objects_use_their_own_explicit_provider(full: Recording) -> None:
    provider = full.one("pulumi:providers:postgresql")
    db = full.one("aws:rds/instance:Instance").state
    assert provider["host"] == db["address"]
    assert provider["sslmode"] == "require"
    assert provider["username"] == full.settings.db_master_username
    assert provider["superuser"] in (False, "false")
    assert "password" in provider.secret_inputs, provider.urn
    objects = [r for r in full.resources if r.type.startswith("postgresql:") and r.custom]
    assert objects
    for r in objects:
        assert r.provider.startswith(provider.urn), f"{r.urn} does not use the explicit provider"
        assert r.retain_on_delete, f"{r.urn} would be dropped when the step is switched off"
    app = full.one("postgresql:index/role:Role", "-app-role")
    assert app["login"] is True
    assert app.get("superuser") is False
    assert "password" in app.secret_inputs
    readonly = full.one("postgresql:index/role:Role", "-readonly-role")
    assert readonly.get("login") is False
    grants = {(g["role"], g["objectType"]): g["privileges"] for g in full.of_type("postgresql:index/grant:Grant")}
    assert grants[("public", "database")] == []
    assert grants[("app_readonly", "table")] == ["SELECT"]
    assert set(grants[("app", "database")]) == {"CONNECT", "TEMPORARY"}
    defaults = full.of_type("postgresql:index/defaultPrivileges:DefaultPrivileges")
    assert {d["objectType"] for d in defaults} == {"table", "sequence"}
    assert all(d["owner"] == "app" and d["role"] == "app_readonly" for d in defaults)
    assert full.one("postgresql:index/database:Database")["name"] == full.settings.database_name


def test_database_objects_can_go_through_a_port_forward() -> None:
    rec = recorded("prod", (*FULL, ("databaseAdminHost", "localhost"), ("databaseAdminPort", 15432)))
    provider = rec.one("pulumi:providers:postgresql")
    assert provider["host"] == "localhost"
    assert int(provider["port"]) == 15432
    assert rec.one("aws:rds/instance:Instance").get("publiclyAccessible") is False


def test_bastion_has_no_public_address_and_requires_imdsv2(full: Recording) -> None:
    host = full.one("aws:ec2/instance:Instance")
    assert host.get("associatePublicIpAddress") is False
    assert host["metadataOptions"]["httpTokens"] == "required"
    assert host["rootBlockDevice"]["encrypted"] is True
    assert "keyName" not in host.inputs
    assert host["vpcSecurityGroupIds"] == [sg_id(full, "bastion")]
    assert full.exports[outputs.BASTION_INSTANCE_ID] == host.id
    assert host.id.startswith("i-")


# --- identity ----------------------------------------------------------------------------------------


def test_the_worker_verifies_tokens_with_the_services_settings(stack: Recording) -> None:
    containers = {
        c["name"]: {e["name"]: e["value"] for e in c["environment"]}
        for t in stack.of_type("aws:ecs/taskDefinition:TaskDefinition")
        for c in json.loads(t["containerDefinitions"])
    }
    api, worker = containers["api"], containers["worker"]
    for name in ("JWT_ISSUER", "JWT_JWKS_URL", "JWT_AUDIENCE", "JWT_USER_SCOPE", "JWT_MAX_LIFETIME"):
        assert worker[name] == api[name], name


def test_the_pool_is_protected_where_the_stack_is(stack: Recording) -> None:
    pool = stack.one("aws:cognito/userPool:UserPool")
    assert pool.protect is stack.settings.protect, pool.urn
    assert pool["deletionProtection"] == ("ACTIVE" if stack.settings.protect else "INACTIVE"), pool.urn
    assert pool["mfaConfiguration"] == stack.settings.user_pool_mfa


EXTERNAL = (
    ("oidcIssuer", "https://example.eu.auth0.com/"),
    ("oidcAudience", "mobile-app,batch-service"),
    ("oidcScopePrefix", "https://api.example.com/"),
    ("oidcUserScope", "openid"),
)


def test_an_issuer_of_your_own_replaces_the_user_pool() -> None:
    rec = recorded("dev", EXTERNAL)
    assert not [r for r in rec.resources if r.type.startswith("aws:cognito/")], "no Cognito resource is declared"
    env = {e["name"]: e["value"] for e in container(rec)["environment"]}
    assert env["JWT_ISSUER"] == "https://example.eu.auth0.com/"
    assert env["JWT_JWKS_URL"] == "https://example.eu.auth0.com/.well-known/jwks.json"
    assert env["JWT_AUDIENCE"] == "mobile-app,batch-service"
    assert env["JWT_SCOPE_PREFIX"] == "https://api.example.com/"
    assert env["JWT_USER_SCOPE"] == "openid"
    assert "JWT_MAX_LIFETIME" not in env, "the API's own bound applies to an issuer it does not configure"
    assert rec.exports[outputs.USER_POOL_ID] is None
    assert rec.exports[outputs.JWT_ISSUER] == "https://example.eu.auth0.com/"
    explicit = recorded("dev", (*EXTERNAL, ("oidcJwksUrl", "https://keys.example.com/jwks")))
    assert {e["name"]: e["value"] for e in container(explicit)["environment"]}["JWT_JWKS_URL"] == (
        "https://keys.example.com/jwks"
    )
