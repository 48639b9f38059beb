"""Bastion: an SSM-managed instance without inbound access, for port forwarding to the private database."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_aws as aws

from infra import assume_role_policy, require, type_token

TYPE = type_token("bastion", "Bastion")

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
"""Public SSM parameter naming the latest Amazon Linux 2023 arm64 image."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class BastionArgs:
    """Inputs of a Bastion."""

    subnet_id: pulumi.Input[str]
    """Private subnet of the instance (outbound through NAT only)."""
    security_group_id: pulumi.Input[str]
    """Security group with no ingress; the database admits it on 5432."""
    instance_type: str = "t4g.nano"
    """Graviton instance type; the bastion only relays a TCP stream."""


class Bastion(pulumi.ComponentResource):
    """A host with no open port and no SSH key: reach it with `aws ssm start-session` port forwarding."""

    def __init__(self, name: str, args: BastionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require(
            args.instance_type.startswith(("t4g.", "m7g.", "c7g.")),
            "instance_type",
            args.instance_type,
            "a Graviton type such as t4g.nano (the image is arm64)",
        )
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Identity of the instance: only what the SSM agent needs.
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            description=f"{name}: SSM Session Manager only",
            opts=child,
        )
        # AWS's managed policy for the SSM agent.
        aws.iam.RolePolicyAttachment(
            f"{name}-ssm",
            role=role.name,
            policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            opts=child,
        )
        # Hands the role to the instance.
        profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=child)
        ami = aws.ssm.get_parameter_output(name=AMI_PARAMETER, opts=pulumi.InvokeOutputOptions(parent=self))
        # The host: private address only, IMDSv2 required, encrypted root volume.
        self.instance = aws.ec2.Instance(
            f"{name}-host",
            ami=ami.value,
            instance_type=args.instance_type,
            subnet_id=args.subnet_id,
            vpc_security_group_ids=[args.security_group_id],
            iam_instance_profile=profile.name,
            associate_public_ip_address=False,
            metadata_options={"http_tokens": "required", "http_endpoint": "enabled"},
            root_block_device={"encrypted": True, "volume_type": "gp3", "volume_size": 8},
            monitoring=True,
            tags={"Name": f"{name}-host"},
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"]),
        )

        self.instance_id = self.instance.id
        self.register_outputs({"instance_id": self.instance_id})
