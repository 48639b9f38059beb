"""DNS: the domain's public hosted zone (looked up or created) and the service's alias records."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra import require, type_token

ZONE_TYPE = type_token("dns", "HostedZone")
RECORDS_TYPE = type_token("dns", "AliasRecords")
_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class HostedZoneArgs:
    """Inputs of a HostedZone."""

    domain: str
    """Domain of the public hosted zone."""
    create: bool = False
    """Create the zone instead of looking up an existing one."""
    protect: bool = True
    """Protect a created zone from deletion (its name servers are delegated to it)."""


class HostedZone(pulumi.ComponentResource):
    """The public hosted zone of a domain; exposes `zone_id` and `name_servers`."""

    def __init__(self, name: str, args: HostedZoneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require(_NAME.fullmatch(args.domain) is not None, "domain", args.domain, "a lowercase domain name")
        super().__init__(ZONE_TYPE, name, None, opts)
        if args.create:
            # A new public zone; its name servers must then be delegated at the registrar.
            zone = aws.route53.Zone(
                f"{name}-zone",
                name=args.domain,
                comment=f"{name}: managed by groundwork",
                force_destroy=False,
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            self.zone_id: pulumi.Output[str] = zone.zone_id
            self.name_servers: pulumi.Output[Sequence[str]] = zone.name_servers
        else:
            found = aws.route53.get_zone_output(
                name=args.domain, private_zone=False, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            self.zone_id = found.zone_id
            self.name_servers = found.name_servers
        self.register_outputs({"zone_id": self.zone_id, "name_servers": self.name_servers})


@dataclasses.dataclass(frozen=True, kw_only=True)
class AliasRecordsArgs:
    """Inputs of AliasRecords."""

    zone_id: pulumi.Input[str]
    """Hosted zone that holds the records."""
    host_name: str
    """Fully qualified name the records answer for."""
    target_dns_name: pulumi.Input[str]
    """DNS name of the dual-stack load balancer."""
    target_zone_id: pulumi.Input[str]
    """Canonical hosted zone of the load balancer."""


class AliasRecords(pulumi.ComponentResource):
    """A and AAAA alias records pointing the host name at the load balancer."""

    def __init__(self, name: str, args: AliasRecordsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require(_NAME.fullmatch(args.host_name) is not None, "host_name", args.host_name, "a lowercase host name")
        super().__init__(RECORDS_TYPE, name, None, opts)
        records = []
        for record_type in ("A", "AAAA"):
            # Alias record for IPv4 (A) or IPv6 (AAAA) clients; follows the load balancer's addresses.
            record = aws.route53.Record(
                f"{name}-{record_type.lower()}",
                zone_id=args.zone_id,
                name=args.host_name,
                type=record_type,
                aliases=[
                    {
                        "name": args.target_dns_name,
                        "zone_id": args.target_zone_id,
                        "evaluate_target_health": True,
                    }
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )
            records.append(record)
        self.fqdn = records[0].fqdn
        self.register_outputs({"fqdn": self.fqdn})
