"""LoadBalancer: a dual-stack ALB, HTTP redirected to HTTPS, forwarding to the service's blue/green target groups."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra import require, type_token

TYPE = type_token("loadbalancer", "LoadBalancer")

SSL_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
)
"""TLS policies allowed on the HTTPS listener: TLS 1.3 with 1.2 at the lowest."""
DESYNC_MODES = ("defensive", "strictest")
"""HTTP desync mitigation modes allowed."""
HSTS_MIN_SECONDS = 365 * 24 * 3600
"""Shortest Strict-Transport-Security max-age accepted: a year."""
FRAME_OPTIONS = ("DENY", "SAMEORIGIN")
"""X-Frame-Options values accepted (ALLOW-FROM is obsolete: browsers ignore it)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResponseHeaders:
    """Security headers the HTTPS listener sets on every answer, the targets' and its own."""

    strict_transport_security: str = "max-age=63072000; includeSubDomains"
    """HSTS: at least a year, every subdomain."""
    content_type_options: str = "nosniff"
    """X-Content-Type-Options: browsers never guess a type."""
    frame_options: str = "DENY"
    """X-Frame-Options: never framed."""
    content_security_policy: str = "default-src 'none'; frame-ancestors 'none'"
    """An API's CSP: nothing loaded, never framed."""
    server_header: bool = False
    """Whether the load balancer names itself in a Server header."""


def _hsts_ok(value: str) -> bool:
    directives = [part.strip().lower() for part in value.split(";")]
    ages = [d.removeprefix("max-age=") for d in directives if d.startswith("max-age=")]
    long_enough = len(ages) == 1 and ages[0].isdigit() and int(ages[0]) >= HSTS_MIN_SECONDS
    return long_enough and "includesubdomains" in directives


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadBalancerArgs:
    """Inputs of a LoadBalancer."""

    vpc_id: pulumi.Input[str]
    """VPC of the target group."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Public subnets in two or more zones."""
    security_group_id: pulumi.Input[str]
    """The load balancer's security group (80 and 443 from anywhere)."""
    certificate_arn: pulumi.Input[str]
    """Issued ACM certificate of the HTTPS listener."""
    host_name: str
    """The service's host name: where port 80 redirects to, whatever Host a request names."""
    log_bucket: pulumi.Input[str]
    """Bucket that receives access logs."""
    log_prefix: str = "alb"
    """Key prefix of the access logs."""
    target_port: int = 8000
    """Port the targets listen on."""
    health_check_path: str = "/livez"
    """Liveness path of the targets; must do no I/O."""
    deregistration_delay_seconds: int = 30
    """Seconds a draining target keeps serving in-flight requests."""
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
    """TLS policy of the HTTPS listener (the default's TLS 1.2 suites: ECDHE with AES-GCM only, Mozilla-safe)."""
    desync_mitigation_mode: str = "strictest"
    """How the load balancer treats ambiguous HTTP requests."""
    idle_timeout_seconds: int = 60
    """Seconds an idle connection stays open."""
    deletion_protection: bool = True
    """AWS refuses to delete the load balancer."""
    test_port: int = 8443
    """HTTPS port of the test listener (a new release's test traffic); the network admits it from the stack only."""
    response_headers: ResponseHeaders = dataclasses.field(default_factory=ResponseHeaders)
    """Security headers of every HTTPS answer."""


class LoadBalancer(pulumi.ComponentResource):
    """Internet-facing ALB: HTTP redirects to HTTPS, HTTPS (TLS 1.3 policy) forwards to the target group."""

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require(args.ssl_policy in SSL_POLICIES, "ssl_policy", args.ssl_policy, ", ".join(SSL_POLICIES))
        require(
            args.desync_mitigation_mode in DESYNC_MODES,
            "desync_mitigation_mode",
            args.desync_mitigation_mode,
            ", ".join(DESYNC_MODES),
        )
        require(len(args.subnet_ids) >= 2, "subnet_ids", len(args.subnet_ids), "subnets in two or more zones")
        require(args.health_check_path.startswith("/"), "health_check_path", args.health_check_path, "a path")
        _validate_headers(args.response_headers)
        require(
            bool(args.host_name) and all(c.isalnum() or c in ".-" for c in args.host_name),
            "host_name",
            args.host_name,
            "a DNS host name",
        )
        require(
            0 <= args.deregistration_delay_seconds <= 3600,
            "deregistration_delay_seconds",
            args.deregistration_delay_seconds,
            "0 to 3600",
        )
        require(
            1024 <= args.test_port <= 65535 and args.test_port != args.target_port,
            "test_port",
            args.test_port,
            f"1024 to 65535, not the target port {args.target_port}",
        )
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._child = child

        # The load balancer: dual-stack, invalid headers dropped, access logs on.
        self.alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            ip_address_type="dualstack",
            subnets=list(args.subnet_ids),
            security_groups=[args.security_group_id],
            drop_invalid_header_fields=True,
            desync_mitigation_mode=args.desync_mitigation_mode,
            enable_deletion_protection=args.deletion_protection,
            enable_http2=True,
            idle_timeout=args.idle_timeout_seconds,
            access_logs={"bucket": args.log_bucket, "prefix": args.log_prefix, "enabled": True},
            opts=child,
        )
        # Blue's and green's target groups: task IPs (awsvpc), checked on the no-I/O liveness path; ECS moves a
        # release's tasks from one to the other.
        self.target_group = self._target_group(name, "tg", args)
        self.alternate_target_group = self._target_group(name, "tg-alt", args)
        # Port 80 only redirects to HTTPS, on the configured host: a request's Host header never picks the target.
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self.alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {
                        "protocol": "HTTPS",
                        "host": args.host_name,
                        "port": "443",
                        "status_code": "HTTP_301",
                    },
                }
            ],
            routing_http_response_server_enabled=args.response_headers.server_header,
            opts=child,
        )
        headers = args.response_headers
        # Port 443 terminates TLS with the issued certificate and sets the security headers on every answer, the
        # target's and its own fixed responses alike; the production rule below routes every path, and the default
        # forward to blue's group (as before the rule existed) is never reached.
        self.https_listener = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=args.ssl_policy,
            certificate_arn=args.certificate_arn,
            default_actions=[{"type": "forward", "target_group_arn": self.target_group.arn}],
            routing_http_response_strict_transport_security_header_value=headers.strict_transport_security,
            routing_http_response_x_content_type_options_header_value=headers.content_type_options,
            routing_http_response_x_frame_options_header_value=headers.frame_options,
            routing_http_response_content_security_policy_header_value=headers.content_security_policy,
            routing_http_response_server_enabled=headers.server_header,
            opts=child,
        )
        self.production_rule = self._forward_rule(name, "production", self.https_listener)
        self.test_listener, self.test_rule = self._test_listener(name, args)
        # The service's Prometheus endpoint is for scrapers inside the VPC, not for the internet.
        aws.lb.ListenerRule(
            f"{name}-hide-metrics",
            listener_arn=self.https_listener.arn,
            priority=1,
            conditions=[{"path_pattern": {"values": ["/metrics", "/metrics/*"]}}],
            actions=[
                {
                    "type": "fixed-response",
                    "fixed_response": {
                        "content_type": "application/json",
                        "status_code": "404",
                        "message_body": '{"error":{"code":"not_found","message":"Not Found"}}',
                    },
                }
            ],
            opts=child,
        )

        self.arn = self.alb.arn
        self.dns_name = self.alb.dns_name
        self.zone_id = self.alb.zone_id
        self.arn_suffix = self.alb.arn_suffix
        # Both carry a dependency on the rules: ECS rejects a target group not yet attached to a load balancer.
        attached = [self.https_listener.arn, self.production_rule.arn, self.test_rule.arn]
        self.target_group_arn = pulumi.Output.all(self.target_group.arn, *attached).apply(lambda v: v[0])
        self.alternate_target_group_arn = pulumi.Output.all(self.alternate_target_group.arn, *attached).apply(
            lambda v: v[0]
        )
        self.target_group_arn_suffix = self.target_group.arn_suffix
        self.alternate_target_group_arn_suffix = self.alternate_target_group.arn_suffix
        self.production_rule_arn = self.production_rule.arn
        self.test_rule_arn = self.test_rule.arn
        self.test_port = args.test_port
        self.register_outputs(
            {
                "arn": self.alb.arn,
                "dns_name": self.dns_name,
                "zone_id": self.zone_id,
                "target_group_arn": self.target_group_arn,
                "alternate_target_group_arn": self.alternate_target_group_arn,
                "https_listener_arn": self.https_listener.arn,
                "production_rule_arn": self.production_rule_arn,
                "test_rule_arn": self.test_rule_arn,
            }
        )

    def _target_group(self, name: str, suffix: str, args: LoadBalancerArgs) -> aws.lb.TargetGroup:
        # One of the two target groups; each is attached to the production and the test rule.
        return aws.lb.TargetGroup(
            f"{name}-{suffix}",
            port=args.target_port,
            protocol="HTTP",
            protocol_version="HTTP1",
            target_type="ip",
            ip_address_type="ipv4",
            vpc_id=args.vpc_id,
            deregistration_delay=args.deregistration_delay_seconds,
            health_check={
                "enabled": True,
                "path": args.health_check_path,
                "protocol": "HTTP",
                "port": "traffic-port",
                "matcher": "200",
                "interval": 15,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
            },
            opts=self._child,
        )

    def _forward_rule(self, name: str, suffix: str, listener: aws.lb.Listener) -> aws.lb.ListenerRule:
        # Every path to blue's target group; ECS owns the weights from the first deployment on, so Pulumi leaves
        # them as ECS set them.
        return aws.lb.ListenerRule(
            f"{name}-{suffix}",
            listener_arn=listener.arn,
            priority=10,
            conditions=[{"path_pattern": {"values": ["/*"]}}],
            actions=[
                {
                    "type": "forward",
                    "forward": {
                        "target_groups": [
                            {"arn": self.target_group.arn, "weight": 100},
                            {"arn": self.alternate_target_group.arn, "weight": 0},
                        ]
                    },
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["actions"]),
        )

    def _test_listener(self, name: str, args: LoadBalancerArgs) -> tuple[aws.lb.Listener, aws.lb.ListenerRule]:
        """The test listener (HTTPS on the test port with the same certificate and headers) and its rule."""
        headers = args.response_headers
        # A new release's test traffic: answers nothing of its own, its rule forwards to green once ECS shifts it.
        listener = aws.lb.Listener(
            f"{name}-test",
            load_balancer_arn=self.alb.arn,
            port=args.test_port,
            protocol="HTTPS",
            ssl_policy=args.ssl_policy,
            certificate_arn=args.certificate_arn,
            default_actions=[
                {
                    "type": "fixed-response",
                    "fixed_response": {
                        "content_type": "application/json",
                        "status_code": "404",
                        "message_body": '{"error":{"code":"not_found","message":"Not Found"}}',
                    },
                }
            ],
            routing_http_response_strict_transport_security_header_value=headers.strict_transport_security,
            routing_http_response_x_content_type_options_header_value=headers.content_type_options,
            routing_http_response_x_frame_options_header_value=headers.frame_options,
            routing_http_response_content_security_policy_header_value=headers.content_security_policy,
            routing_http_response_server_enabled=headers.server_header,
            opts=self._child,
        )
        return listener, self._forward_rule(name, "test-route", listener)


def _validate_headers(headers: ResponseHeaders) -> None:
    require(
        _hsts_ok(headers.strict_transport_security),
        "response_headers.strict_transport_security",
        headers.strict_transport_security,
        f"max-age of at least {HSTS_MIN_SECONDS} with includeSubDomains",
    )
    require(
        headers.content_type_options == "nosniff",
        "response_headers.content_type_options",
        headers.content_type_options,
        "nosniff",
    )
    require(
        headers.frame_options in FRAME_OPTIONS,
        "response_headers.frame_options",
        headers.frame_options,
        ", ".join(FRAME_OPTIONS),
    )
    policy = [d.strip() for d in headers.content_security_policy.split(";")]
    require(
        "frame-ancestors 'none'" in policy or "frame-ancestors 'self'" in policy,
        "response_headers.content_security_policy",
        headers.content_security_policy,
        "a policy with frame-ancestors 'none' or 'self'",
    )
