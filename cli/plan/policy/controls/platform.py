"""Controls 37-42: log groups, alarms, secrets, IAM and security groups."""

from __future__ import annotations

from collections.abc import Iterator

from cli.core import resource_types
from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView, as_list, document, inputs, statements
from infra.limits import MAX_ROTATION_DAYS

_LOG_GROUP = resource_types.CLOUDWATCH_LOG_GROUP
_ALARM = resource_types.CLOUDWATCH_METRIC_ALARM
_VAULT_ENTRY = resource_types.SECRETSMANAGER_SECRET
_ROTATION = resource_types.SECRETSMANAGER_SECRET_ROTATION
_ROLE = resource_types.IAM_ROLE
_ROLE_POLICY = resource_types.IAM_ROLE_POLICY
_ATTACHMENT = resource_types.IAM_ROLE_POLICY_ATTACHMENT
_POLICIES = (resource_types.IAM_POLICY, _ROLE_POLICY, resource_types.IAM_USER_POLICY, resource_types.IAM_GROUP_POLICY)
_ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
_INGRESS = resource_types.VPC_SECURITY_GROUP_INGRESS_RULE
_SG = resource_types.EC2_SECURITY_GROUP
_WORLD = ("0.0.0.0/0", "::/0")


@control("37", "Log retention set, KMS advised", sources=("CKV_AWS_66", "CKV_AWS_158"), level="E/A")
def log_retention(view: PlanView) -> Iterator[Violation]:
    for group in view.of(_LOG_GROUP):
        if not inputs(group).get("retentionInDays"):
            yield Violation(group["urn"], "retentionInDays is not set (logs kept forever)", level="E")
        if not inputs(group).get("kmsKeyId"):
            yield Violation(group["urn"], "not encrypted with a customer KMS key", level="A")


@control("38", "Alarms notify someone", sources=("CKV_AWS_319",), level="P")
def alarm_actions(view: PlanView) -> Iterator[Violation]:
    for alarm in view.of(_ALARM):
        if inputs(alarm).get("actionsEnabled") is False or not inputs(alarm).get("alarmActions"):
            yield Violation(alarm["urn"], "alarm has no enabled alarmActions")


@control(
    "39",
    "Secrets rotate, deletion recoverable in prod",
    sources=("SecretsManager.1", "SecretsManager.4", "CKV2_AWS_57"),
    level="P",
)
def secret_rotation(view: PlanView) -> Iterator[Violation]:
    for secret in view.of(_VAULT_ENTRY):
        rotations = view.attached(_ROTATION, "secretId", secret)
        days = [(inputs(r).get("rotationRules") or {}).get("automaticallyAfterDays") for r in rotations]
        if not rotations:
            yield Violation(secret["urn"], "no automatic rotation")
        elif not all(d and d <= MAX_ROTATION_DAYS for d in days):
            yield Violation(secret["urn"], f"rotation interval above {MAX_ROTATION_DAYS} days")
        if view.production and inputs(secret).get("recoveryWindowInDays") == 0:
            yield Violation(secret["urn"], "recoveryWindowInDays is 0 (deleted without recovery)")


def _iam_statements(view: PlanView) -> Iterator[tuple[dict, dict]]:
    for r in view.of(*_POLICIES):
        for s in statements(inputs(r).get("policy")):
            yield r, s
    for role in view.of(_ROLE):
        for inline in inputs(role).get("inlinePolicies") or []:
            for s in statements(inline.get("policy")):
                yield role, s


@control(
    "40",
    "No wildcard or admin permissions",
    sources=("IAM.1", "IAM.21", "CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_274", "CKV_AWS_355"),
    level="E/P",
)
def least_privilege(view: PlanView) -> Iterator[Violation]:
    for r, s in _iam_statements(view):
        if s.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in as_list(s.get("Action"))]
        if "*" in actions and "*" in as_list(s.get("Resource")):
            yield Violation(r["urn"], "allows action * on resource *", level="E")
        wide = [a for a in actions if a != "*" and a.endswith(":*")]
        if wide:
            yield Violation(r["urn"], f"allows every action of a service: {', '.join(sorted(wide))}", level="P")
    for r in view.of(_ATTACHMENT):
        if inputs(r).get("policyArn") == _ADMIN:
            yield Violation(r["urn"], "AdministratorAccess attached", level="E")
    for role in view.of(_ROLE):
        if _ADMIN in (inputs(role).get("managedPolicyArns") or []):
            yield Violation(role["urn"], "AdministratorAccess attached", level="E")


@control(
    "41",
    "Roles trust service principals only, one way to manage policies",
    sources=("CKV_AWS_60", "CKV_AWS_61"),
    level="E",
)
def role_trust(view: PlanView) -> Iterator[Violation]:
    for role in view.of(_ROLE):
        for s in statements(document(role, "assumeRolePolicy")):
            principal = s.get("Principal")
            if s.get("Effect") == "Allow" and not (isinstance(principal, dict) and set(principal) == {"Service"}):
                yield Violation(role["urn"], f"trusts {principal!r}, not only service principals")
        args = inputs(role)
        if args.get("inlinePolicies") and view.attached(_ROLE_POLICY, "role", role):
            yield Violation(role["urn"], "inline policies both on the role and as RolePolicy resources")
        if args.get("managedPolicyArns") and view.attached(_ATTACHMENT, "role", role):
            yield Violation(role["urn"], "managed policies both on the role and as RolePolicyAttachment resources")


@control(
    "42",
    "Only the load balancer is open to the internet",
    sources=("EC2.18", "EC2.19", "CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_260", "CKV_AWS_277"),
    level="E",
)
def ingress(view: PlanView) -> Iterator[Violation]:
    lb_groups = _group_ids(view, resource_types.LB_LOAD_BALANCER, lambda a: a.get("securityGroups"))
    private = (
        _group_ids(view, resource_types.RDS_INSTANCE, lambda a: a.get("vpcSecurityGroupIds"))
        | _group_ids(view, resource_types.RDS_PROXY, lambda a: a.get("vpcSecurityGroupIds"))
        | _group_ids(
            view, resource_types.ECS_SERVICE, lambda a: (a.get("networkConfiguration") or {}).get("securityGroups")
        )
    )
    for rule in _ingress_rules(view):
        urn, group, args = rule
        world = (
            args.get("cidrIpv4") in _WORLD
            or args.get("cidrIpv6") in _WORLD
            or any(c in _WORLD for c in as_list(args.get("cidrBlocks")) + as_list(args.get("ipv6CidrBlocks")))
        )
        ports = (args.get("fromPort"), args.get("toPort"))
        if world and not (group in lb_groups and ports in ((80, 80), (443, 443))):
            yield Violation(urn, f"ingress from anywhere on ports {ports[0]}-{ports[1]} of {group}")
        if group in private and not (args.get("referencedSecurityGroupId") or args.get("securityGroups")):
            yield Violation(urn, f"{group} guards the database, proxy or tasks and admits a non-group source")


def _group_ids(view: PlanView, token: str, pick) -> set[str]:
    return {g for r in view.of(token) for g in as_list(pick(inputs(r)))}


def _ingress_rules(view: PlanView) -> Iterator[tuple[str, str | None, dict]]:
    for rule in view.of(_INGRESS):
        yield rule["urn"], inputs(rule).get("securityGroupId"), inputs(rule)
    for group in view.of(_SG):
        for entry in inputs(group).get("ingress") or []:
            yield group["urn"], group.get("id"), entry
    for rule in view.of(resource_types.EC2_SECURITY_GROUP_RULE):
        if inputs(rule).get("type") == "ingress":
            yield rule["urn"], inputs(rule).get("securityGroupId"), inputs(rule)
