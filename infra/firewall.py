"""Firewall: a WAFv2 web ACL on the load balancer with a per-client rate limit and AWS managed rule groups."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from infra import require, require_log_retention, type_token
from infra.dashboards import AlarmSpec
from infra.keys import KeyArns
from infra.limits import WAF_MODES, WAF_RATE_LIMIT_RANGE, WAF_RATE_WINDOWS_SECONDS
from infra.panels import Metric, Panel

TYPE = type_token("firewall", "Firewall")

MANAGED_GROUPS = {
    "core": ("AWSManagedRulesCommonRuleSet", "awswaf:managed:aws:core-rule-set:"),
    "knownBadInputs": ("AWSManagedRulesKnownBadInputsRuleSet", "awswaf:managed:aws:known-bad-inputs:"),
    "sqlInjection": ("AWSManagedRulesSQLiRuleSet", "awswaf:managed:aws:sql-database:"),
    "ipReputation": ("AWSManagedRulesAmazonIpReputationList", "awswaf:managed:aws:amazon-ip-list:"),
}
"""The AWS managed rule groups, by the short name settings use: (group name, label namespace of its matches)."""
LOG_GROUP_PREFIX = "aws-waf-logs-"
"""WAF delivers logs only to log groups whose names start with this."""
REDACTED_HEADERS = ("authorization", "cookie")
"""Headers never written to the firewall's logs (WAF never logs request bodies)."""
RATE_LIMITED_BODY = {"error": {"code": "rate_limited", "message": "too many requests from this address; retry later"}}
"""The 429 body, in the API's error format."""
FORBIDDEN_BODY = {"error": {"code": "forbidden", "message": "the request was refused by the firewall"}}
"""The 403 body of a managed-rule block, in the API's error format."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class FirewallArgs:
    """Inputs of a Firewall."""

    load_balancer_arn: pulumi.Input[str]
    """The internet-facing load balancer the web ACL protects."""
    region: str
    """Region of the web ACL (its metrics' Region dimension)."""
    rate_limit: int = 1000
    """Requests one client address may send per window before it gets 429."""
    rate_window_seconds: int = 300
    """The rate rule's evaluation window."""
    managed_rules: Mapping[str, str] = dataclasses.field(default_factory=lambda: dict.fromkeys(MANAGED_GROUPS, "block"))
    """Mode of each managed rule group (block or count); a group left out is not used."""
    log_retention_days: int = 30
    """Retention of the firewall's log group."""
    keys: KeyArns = dataclasses.field(default_factory=KeyArns)
    """Customer keys to encrypt with (the stack's own on protected stacks); AWS-managed keys where None."""
    blocked_alarm_per_minute: int = 500
    """Blocked requests a minute that raise the alarm (an attack, or a rule blocking real users)."""


class Firewall(pulumi.ComponentResource):
    """A regional web ACL: rate limit per client IP first, then the managed groups; logs without credentials."""

    def __init__(self, name: str, args: FirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.acl_name = f"{name}-acl"
        metric = re.sub(r"[^A-Za-z0-9_-]", "-", name)

        # The web ACL: allows by default; the rules below block what they match.
        self.acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            name=self.acl_name,
            description=f"{name}: per-client rate limit and AWS managed rules",
            scope="REGIONAL",
            default_action={"allow": {}},
            custom_response_bodies=[
                {"key": "rate-limited", "content": json.dumps(RATE_LIMITED_BODY), "content_type": "APPLICATION_JSON"},
                {"key": "forbidden", "content": json.dumps(FORBIDDEN_BODY), "content_type": "APPLICATION_JSON"},
            ],
            rules=acl_rules(args, metric),
            visibility_config=_visibility(metric),
            opts=child,
        )
        # The load balancer answers only through the web ACL.
        aws.wafv2.WebAclAssociation(
            f"{name}-association", resource_arn=args.load_balancer_arn, web_acl_arn=self.acl.arn, opts=child
        )
        # Where WAF writes its logs; the name must start with aws-waf-logs-.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"{LOG_GROUP_PREFIX}{name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.keys.logs,
            opts=child,
        )
        # Logs of the requests WAF saw, with credentials redacted.
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=self.acl.arn,
            log_destination_configs=[self.log_group.arn],
            redacted_fields=[{"single_header": {"name": header}} for header in REDACTED_HEADERS],
            opts=child,
        )

        dimensions = {"WebACL": self.acl_name, "Region": args.region, "Rule": "ALL"}
        self.alarm_specs = [
            AlarmSpec(
                "waf-blocked",
                f"The firewall blocked more than {args.blocked_alarm_per_minute} requests a minute",
                "AWS/WAFV2",
                "BlockedRequests",
                dimensions,
                "Sum",
                args.blocked_alarm_per_minute,
            )
        ]
        rules = ["ALL", f"{metric}-rate-limit", *(f"{metric}-{short}" for short in args.managed_rules)]
        self.panels = [
            Panel(
                "Firewall allowed and blocked requests",
                [
                    _waf_metric("AllowedRequests", self.acl_name, args.region, "ALL"),
                    *(_waf_metric("BlockedRequests", self.acl_name, args.region, rule) for rule in rules),
                ],
            )
        ]
        self.acl_arn = self.acl.arn
        self.log_group_name = self.log_group.name
        self.register_outputs({"acl_arn": self.acl_arn, "acl_name": self.acl_name, "log_group": self.log_group_name})


def acl_rules(args: FirewallArgs, metric: str) -> list[aws.wafv2.WebAclRuleArgsDict]:
    """Rate limit first; each managed group counts and labels its matches, and a label rule blocks them with 403.

    Managed groups cannot answer with a custom response themselves; counting and blocking on their labels is how
    the 403 gets the API's JSON error body.
    """
    rules: list[aws.wafv2.WebAclRuleArgsDict] = [
        {
            "name": "rate-limit",
            "priority": 0,
            "statement": {
                "rate_based_statement": {
                    "limit": args.rate_limit,
                    "evaluation_window_sec": args.rate_window_seconds,
                    "aggregate_key_type": "IP",
                }
            },
            "action": {
                "block": {
                    "custom_response": {
                        "response_code": 429,
                        "custom_response_body_key": "rate-limited",
                        "response_headers": [{"name": "Retry-After", "value": str(args.rate_window_seconds)}],
                    }
                }
            },
            "visibility_config": _visibility(f"{metric}-rate-limit"),
        }
    ]
    priority = 1
    for short in args.managed_rules:
        group, _ = MANAGED_GROUPS[short]
        rules.append(
            {
                "name": short,
                "priority": priority,
                "statement": {"managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}},
                "override_action": {"count": {}},
                "visibility_config": _visibility(f"{metric}-{short}-matches"),
            }
        )
        priority += 1
    for short, mode in args.managed_rules.items():
        _, labels = MANAGED_GROUPS[short]
        action: aws.wafv2.WebAclRuleActionArgsDict = (
            {"block": {"custom_response": {"response_code": 403, "custom_response_body_key": "forbidden"}}}
            if mode == "block"
            else {"count": {}}
        )
        rules.append(
            {
                "name": f"{short}-{mode}",
                "priority": priority,
                "statement": {"label_match_statement": {"scope": "NAMESPACE", "key": labels}},
                "action": action,
                "visibility_config": _visibility(f"{metric}-{short}"),
            }
        )
        priority += 1
    return rules


def _waf_metric(metric: str, acl: str, region: str, rule: str) -> Metric:
    return Metric("AWS/WAFV2", metric, {"WebACL": acl, "Region": region, "Rule": rule}, "Sum")


def _visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


def _validate(args: FirewallArgs) -> None:
    """Raises ValueError naming the field and what is allowed."""
    low, high = WAF_RATE_LIMIT_RANGE
    require(low <= args.rate_limit <= high, "rate_limit", args.rate_limit, f"{low} to {high}")
    require(
        args.rate_window_seconds in WAF_RATE_WINDOWS_SECONDS,
        "rate_window_seconds",
        args.rate_window_seconds,
        ", ".join(map(str, WAF_RATE_WINDOWS_SECONDS)),
    )
    for short, mode in args.managed_rules.items():
        require(short in MANAGED_GROUPS, "managed_rules", short, ", ".join(MANAGED_GROUPS))
        modes = [mode for mode in WAF_MODES if mode != "off"]
        require(mode in modes, f"managed_rules[{short}]", mode, ", ".join(modes))
    require(args.blocked_alarm_per_minute >= 1, "blocked_alarm_per_minute", args.blocked_alarm_per_minute, "1+")
    require_log_retention(args.log_retention_days)
