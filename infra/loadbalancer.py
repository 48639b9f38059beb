"""LoadBalancer: a dual-stack Application Load Balancer that redirects HTTP to HTTPS and forwards to the service."""

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
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    """TLS policy of the HTTPS listener."""
    desync_mitigation_mode: str = "strictest"
    """How the load balancer treats ambiguous HTTP requests."""
    idle_timeout_seconds: int = 60
    """Seconds an idle connection stays open."""
    deletion_protection: bool = True
    """AWS refuses to delete the load balancer."""


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
        require(
            0 <= args.deregistration_delay_seconds <= 3600,
            "deregistration_delay_seconds",
            args.deregistration_delay_seconds,
            "0 to 3600",
        )
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

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
        # Targets are task IPs (awsvpc); checked on the no-I/O liveness path.
        self.target_group = aws.lb.TargetGroup(
            f"{name}-tg",
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
            opts=child,
        )
        # Port 80 only redirects to HTTPS.
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self.alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"},
                }
            ],
            opts=child,
        )
        # Port 443 terminates TLS with the issued certificate and forwards to the service.
        self.https_listener = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=args.ssl_policy,
            certificate_arn=args.certificate_arn,
            default_actions=[{"type": "forward", "target_group_arn": self.target_group.arn}],
            opts=child,
        )
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
        # Carries a dependency on the HTTPS listener: ECS rejects a target group not yet attached to a load balancer.
        self.target_group_arn = pulumi.Output.all(arn=self.target_group.arn, attached_by=self.https_listener.arn).apply(
            lambda v: v["arn"]
        )
        self.target_group_arn_suffix = self.target_group.arn_suffix
        self.register_outputs(
            {
                "arn": self.alb.arn,
                "dns_name": self.dns_name,
                "zone_id": self.zone_id,
                "target_group_arn": self.target_group_arn,
                "https_listener_arn": self.https_listener.arn,
            }
        )
