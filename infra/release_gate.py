"""ReleaseGate: what ECS needs for a blue/green release of the API: the check function and the roles ECS acts with."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra import assume_role_policy, policy_document, require, require_log_retention, type_token
from infra.keys import KeyArns

TYPE = type_token("release_gate", "ReleaseGate")

CHECK_SOURCE = pathlib.Path(__file__).parent / "lambdas" / "release_check.py"
"""The function's code: one module, standard library and the runtime's boto3 only."""
HOOK_STAGE = "POST_TEST_TRAFFIC_SHIFT"
"""The stage the check runs at: the green tasks receive the test listener's traffic, production is still blue's."""
LOAD_BALANCER_POLICY = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
"""AWS's policy for ECS's infrastructure role: describe the load balancer, move targets, modify listener rules."""
VPC_NETWORK_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
VPC_DESCRIBE_ACTIONS = ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets")
"""What Lambda does with a function's own role to place it in a VPC (AWSLambdaVPCAccessExecutionRole's EC2 part): the
changes, bound to the VPC by condition, and the reads, which have neither resource-level permissions nor that key."""
RUNTIME = "python3.13"
TIMEOUT_SECONDS = 120
"""The function's timeout: the check's own budget (90 s) plus the token and the log line."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReleaseGateArgs:
    """Inputs of a ReleaseGate. Changing any field updates in place."""

    check_url: pulumi.Input[str]
    """The test listener the check sends its requests to, `https://<host name>:<test port>`."""
    vpc_id: pulumi.Input[str]
    """The VPC the function's network interfaces are bound to."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets the function runs in (out through NAT, the way the test listener admits)."""
    security_group_id: pulumi.Input[str]
    """The function's group: no inbound; out to the test port and HTTPS only."""
    user_pool_arn: pulumi.Input[str] | None = None
    """The pool whose machine client the check signs in with; None checks without a token (no write)."""
    user_pool_id: pulumi.Input[str] | None = None
    machine_client_id: pulumi.Input[str] | None = None
    token_endpoint: pulumi.Input[str] | None = None
    requests: int = 20
    """Heartbeats of the check's burst."""
    p95_ms: int = 1000
    """The burst's 95th percentile latency limit in milliseconds."""
    schema_wait_seconds: int = 900
    """How long green may wait for the release's migration (`infra up` runs it) before the check fails."""
    log_retention_days: int = 30
    """Retention of the function's log group."""
    keys: KeyArns = dataclasses.field(default_factory=KeyArns)
    """Customer keys to encrypt with (the stack's own on protected stacks); AWS-managed keys where None."""


class ReleaseGate(pulumi.ComponentResource):
    """The check function in the VPC with its log group and role, the role ECS invokes it with, and ECS's
    infrastructure role for the load balancer (moving targets between the two target groups, weighting rules)."""

    def __init__(self, name: str, args: ReleaseGateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__(TYPE, name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        function_name = f"{name}-check"
        self.log_group = self._log_group(name, function_name, args)
        self.function_role, function_policy = self._function_role(name, args)
        self.function = self._function(name, function_name, args, function_policy)
        self.invoke_role, invoke_policy = self._invoke_role(name)
        self.load_balancer_role, attachment = self._load_balancer_role(name)

        self.function_arn = self.function.arn
        self.function_name = self.function.name
        self.invoke_role_arn = self.invoke_role.arn
        self.load_balancer_role_arn = self.load_balancer_role.arn
        self.log_group_name = self.log_group.name
        self.ready: list[pulumi.Resource] = [invoke_policy, attachment]
        """What the service must wait for: ECS checks its roles' permissions when the service is created."""
        self.register_outputs(
            {
                "function_arn": self.function_arn,
                "invoke_role_arn": self.invoke_role_arn,
                "load_balancer_role_arn": self.load_balancer_role_arn,
                "log_group_name": self.log_group_name,
            }
        )

    def _log_group(self, name: str, function_name: str, args: ReleaseGateArgs) -> aws.cloudwatch.LogGroup:
        # The check's verdicts (one JSON line per invocation), which `infra up` reads; kept for the retention.
        return aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.keys.logs,
            opts=self._child,
        )

    def _function_role(self, name: str, args: ReleaseGateArgs) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        # The role the check runs as.
        role = aws.iam.Role(
            f"{name}-check-role",
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            description=f"{name}: the release check (its logs, its network interfaces, the machine client's secret)",
            opts=self._child,
        )
        # Its own log group, the network interfaces Lambda needs in the VPC, the machine client of this pool.
        policy = aws.iam.RolePolicy(
            f"{name}-check-policy",
            role=role.id,
            policy=pulumi.Output.all(
                log_group_arn=self.log_group.arn,
                vpc_id=args.vpc_id,
                subnet_ids=pulumi.Output.all(*args.subnet_ids),
                security_group_id=args.security_group_id,
                pool_arn=args.user_pool_arn,
            ).apply(lambda v: check_policy(**v)),
            opts=self._child,
        )
        return role, policy

    def _function(
        self, name: str, function_name: str, args: ReleaseGateArgs, policy: aws.iam.RolePolicy
    ) -> aws.lambda_.Function:
        environment: dict[str, pulumi.Input[str]] = {
            "CHECK_URL": args.check_url,
            "CHECK_REQUESTS": str(args.requests),
            "CHECK_P95_MS": str(args.p95_ms),
            "CHECK_SCHEMA_WAIT_S": str(args.schema_wait_seconds),
        }
        if args.user_pool_id is not None:
            # Names only: the client's secret is read from Cognito at each run, never stored in the function.
            environment.update(
                {
                    "USER_POOL_ID": args.user_pool_id,
                    "MACHINE_CLIENT_ID": args.machine_client_id or "",
                    "TOKEN_ENDPOINT": args.token_endpoint or "",
                }
            )
        # The check itself: in the private subnets, reaching the test listener through NAT like the rest of the VPC.
        return aws.lambda_.Function(
            f"{name}-check",
            name=function_name,
            description="Connectivity check of a new API release through the test listener (ECS lifecycle hook)",
            runtime=RUNTIME,
            architectures=["arm64"],
            handler="release_check.handler",
            code=pulumi.AssetArchive({"release_check.py": pulumi.FileAsset(str(CHECK_SOURCE))}),
            role=self.function_role.arn,
            timeout=TIMEOUT_SECONDS,
            memory_size=256,
            vpc_config={"subnet_ids": list(args.subnet_ids), "security_group_ids": [args.security_group_id]},
            environment={"variables": environment},
            tracing_config={"mode": "Active"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, self.log_group]),
        )

    def _invoke_role(self, name: str) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        # The role ECS invokes the check with at the lifecycle stage.
        role = aws.iam.Role(
            f"{name}-hook-role",
            assume_role_policy=assume_role_policy("ecs.amazonaws.com"),
            description=f"{name}: ECS invokes the release check",
            opts=self._child,
        )
        # This one function, nothing else.
        policy = aws.iam.RolePolicy(
            f"{name}-hook-policy",
            role=role.id,
            policy=self.function.arn.apply(
                lambda arn: policy_document(
                    [
                        {
                            "Sid": "InvokeReleaseCheck",
                            "Effect": "Allow",
                            "Action": "lambda:InvokeFunction",
                            "Resource": arn,
                        }
                    ]
                )
            ),
            opts=self._child,
        )
        return role, policy

    def _load_balancer_role(self, name: str) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        # The role ECS shifts traffic with: registers green's tasks, weights the production and test rules.
        role = aws.iam.Role(
            f"{name}-lb-role",
            assume_role_policy=assume_role_policy("ecs.amazonaws.com"),
            description=f"{name}: ECS moves a release's traffic between the target groups",
            opts=self._child,
        )
        # AWS's policy for exactly this duty (elasticloadbalancing reads, target registration, listener rules).
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-lb-policy", role=role.name, policy_arn=LOAD_BALANCER_POLICY, opts=self._child
        )
        return role, attachment


def check_policy(
    *,
    log_group_arn: str,
    vpc_id: str,
    subnet_ids: Sequence[str] = (),
    security_group_id: str = "",
    pool_arn: str | None = None,
) -> str:
    """Least privilege of the check: its log group's streams, its traces, the network-interface actions Lambda takes
    with this role (interfaces of this account and region, in the function's subnets and group, bound to this VPC
    wherever the request names one; the two reads have no resource-level permissions), and reading the machine client
    of this one pool."""
    region, account = log_group_arn.split(":")[3:5]
    ec2 = f"arn:aws:ec2:{region}:{account}"
    placed = [
        f"{ec2}:network-interface/*",
        *(f"{ec2}:subnet/{subnet}" for subnet in subnet_ids),
        *([f"{ec2}:security-group/{security_group_id}"] if security_group_id else []),
    ]
    statements = [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
        {
            "Sid": "NetworkInterfacesInTheVpc",
            "Effect": "Allow",
            "Action": list(VPC_NETWORK_ACTIONS),
            "Resource": placed,
            "Condition": {"ArnLikeIfExists": {"ec2:Vpc": f"arn:aws:ec2:*:*:vpc/{vpc_id}"}},
        },
        {"Sid": "ReadNetworkInterfaces", "Effect": "Allow", "Action": list(VPC_DESCRIBE_ACTIONS), "Resource": "*"},
        {
            # X-Ray's trace actions have no resource-level permissions.
            "Sid": "WriteTraces",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        },
    ]
    if pool_arn:
        statements.append(
            {
                "Sid": "ReadMachineClient",
                "Effect": "Allow",
                "Action": "cognito-idp:DescribeUserPoolClient",
                "Resource": pool_arn,
            }
        )
    return policy_document(statements)


def _validate(args: ReleaseGateArgs) -> None:
    """Raises ValueError naming the field and what is allowed."""
    require(1 <= args.requests <= 200, "requests", args.requests, "1 to 200")
    require(1 <= args.p95_ms <= 60000, "p95_ms", args.p95_ms, "1 to 60000")
    require(60 <= args.schema_wait_seconds <= 3600, "schema_wait_seconds", args.schema_wait_seconds, "60 to 3600")
    signed_in = (args.user_pool_arn, args.user_pool_id, args.machine_client_id, args.token_endpoint)
    require(
        all(v is None for v in signed_in) or all(v is not None for v in signed_in),
        "user_pool_arn",
        "given without the pool id, machine client id and token endpoint" if args.user_pool_arn else "missing",
        "all four of user_pool_arn, user_pool_id, machine_client_id, token_endpoint, or none",
    )
    require_log_retention(args.log_retention_days)
