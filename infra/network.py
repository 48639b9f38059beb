"""Network: a VPC across availability zones with public, private and database subnets and security groups."""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools

import pulumi
import pulumi_aws as aws

from infra import invalid, require, type_token

TYPE = type_token("network", "Network")

FLOW_LOG_PREFIX = "vpc"
"""Key prefix of the VPC flow logs in the log bucket."""
_ANY_IPV4 = "0.0.0.0/0"
_ANY_IPV6 = "::/0"


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    """Inputs of a Network."""

    cidr: str = "10.0.0.0/16"
    """Private IPv4 range of the VPC, /16 to /20."""
    zone_count: int = 3
    """Availability zones the subnets span (2 or 3)."""
    nat_per_zone: bool = True
    """One NAT gateway per zone; False shares one for the whole VPC."""
    app_port: int = 8000
    """Port the service's containers listen on."""
    database_port: int = 5432
    """Port of the database and of the connection proxy."""
    bastion: bool = False
    """Add a security group for an SSM bastion that may reach the database."""
    worker: bool = False
    """Add a security group for background workers: no inbound, out to the proxy, the cache and AWS APIs."""
    cache: bool = False
    """Add a security group for the cache that admits only the service and the worker."""
    cache_port: int = 6379
    """Port of the cache."""
    release_test_port: int | None = None
    """Test listener port: admitted from the NAT addresses only, with a group for the release check; None: none."""
    flow_log_bucket_arn: pulumi.Input[str] | None = None
    """Bucket (ARN) that receives the VPC's flow logs under `vpc/`; None turns flow logs off."""


class Network(pulumi.ComponentResource):
    """A VPC whose only internet-facing security group is the load balancer's, on 80 and 443."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__(TYPE, name, None, opts)
        zones = self._zones(args)
        self.vpc = self._vpc(name, args)
        public_rt, database_rt, igw = self._route_tables(name)
        public, nats = self._public_tier(name, args, zones, public_rt, igw)
        private, database = self._private_tiers(name, args, zones, nats, database_rt)
        self._security_groups(name, args)
        self._rules(name, args)
        self._release_check_rules(name, args)

        self.vpc_id = self.vpc.id
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        self.database_subnet_ids = [s.id for s in database]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "database_subnet_ids": self.database_subnet_ids,
                "nat_gateway_ids": [n.id for n in nats],
            }
        )

    def _zones(self, args: NetworkArgs) -> list[pulumi.Output[str]]:
        """The first `zone_count` available zones that need no opt-in."""
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return [zones.names.apply(lambda names, i=i: _zone(names, i, args.zone_count)) for i in range(args.zone_count)]

    def _vpc(self, name: str, args: NetworkArgs) -> aws.ec2.Vpc:
        """The VPC and, where a bucket is given, its flow logs."""
        child = pulumi.ResourceOptions(parent=self)
        # The VPC, dual-stack so the load balancer can answer AAAA as well as A records.
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            assign_generated_ipv6_cidr_block=True,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        if args.flow_log_bucket_arn is not None:
            # Accepted and rejected traffic of every interface, for incident analysis.
            aws.ec2.FlowLog(
                f"{name}-flow-log",
                vpc_id=vpc.id,
                traffic_type="ALL",
                log_destination_type="s3",
                log_destination=pulumi.Output.from_input(args.flow_log_bucket_arn).apply(
                    lambda arn: f"{arn}/{FLOW_LOG_PREFIX}/"
                ),
                max_aggregation_interval=600,
                opts=child,
            )
        return vpc

    def _route_tables(self, name: str) -> tuple[aws.ec2.RouteTable, aws.ec2.RouteTable, aws.ec2.InternetGateway]:
        """The emptied default group, the internet gateway, the public table and the database's local-only table."""
        child = pulumi.ResourceOptions(parent=self)
        # The default security group of a VPC allows all traffic between its members; empty it.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, ingress=[], egress=[], opts=child)
        # Internet access for the public subnets (load balancer, NAT gateways).
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags={"Name": f"{name}-igw"}, opts=child)
        # One route table for all public subnets: IPv4 and IPv6 default routes to the internet gateway.
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=self.vpc.id, tags={"Name": f"{name}-public"}, opts=child
        )
        # Public IPv4 default route.
        aws.ec2.Route(
            f"{name}-public-route",
            route_table_id=public_rt.id,
            destination_cidr_block=_ANY_IPV4,
            gateway_id=igw.id,
            opts=child,
        )
        # Public IPv6 default route.
        aws.ec2.Route(
            f"{name}-public-route6",
            route_table_id=public_rt.id,
            destination_ipv6_cidr_block=_ANY_IPV6,
            gateway_id=igw.id,
            opts=child,
        )
        # Database subnets share a route table with no route out of the VPC.
        database_rt = aws.ec2.RouteTable(
            f"{name}-database-rt", vpc_id=self.vpc.id, tags={"Name": f"{name}-database"}, opts=child
        )
        return public_rt, database_rt, igw

    def _public_tier(
        self,
        name: str,
        args: NetworkArgs,
        zones: list[pulumi.Output[str]],
        public_rt: aws.ec2.RouteTable,
        igw: aws.ec2.InternetGateway,
    ) -> tuple[list[aws.ec2.Subnet], list[aws.ec2.NatGateway]]:
        """A public subnet per zone, and the NAT gateways in them (one per zone, or one shared)."""
        child = pulumi.ResourceOptions(parent=self)
        blocks = _blocks(args.cidr)
        public, nats = [], []
        self.nat_public_ips: list[pulumi.Output[str]] = []
        for i in range(args.zone_count):
            zone = zones[i]
            # Public subnet: load balancer and NAT gateway; instances get no public address by default.
            subnet = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=self.vpc.id,
                availability_zone=zone,
                cidr_block=str(blocks[i]),
                ipv6_cidr_block=self.vpc.ipv6_cidr_block.apply(lambda c, i=i: _ipv6_block(c, i)),
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{i}", "Tier": "public"},
                opts=child,
            )
            public.append(subnet)
            # Routes the public subnet through the internet gateway.
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-rta", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child
            )
            if args.nat_per_zone or i == 0:
                # Fixed address of the NAT gateway (allow-listable egress IP).
                eip = aws.ec2.Eip(f"{name}-nat-{i}-eip", domain="vpc", tags={"Name": f"{name}-nat-{i}"}, opts=child)
                self.nat_public_ips.append(eip.public_ip)
                # Outbound IPv4 for the private subnets (image pulls, Secrets Manager, logs).
                nat = aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.allocation_id,
                    subnet_id=subnet.id,
                    tags={"Name": f"{name}-nat-{i}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
                nats.append(nat)
        return public, nats

    def _private_tiers(
        self,
        name: str,
        args: NetworkArgs,
        zones: list[pulumi.Output[str]],
        nats: list[aws.ec2.NatGateway],
        database_rt: aws.ec2.RouteTable,
    ) -> tuple[list[aws.ec2.Subnet], list[aws.ec2.Subnet]]:
        """A private subnet (out through NAT) and a database subnet (no way out) per zone."""
        child = pulumi.ResourceOptions(parent=self)
        blocks = _blocks(args.cidr)
        private, database = [], []
        for i in range(args.zone_count):
            zone = zones[i]
            # Private subnet: service tasks, the proxy and the bastion; reaches out only through NAT.
            subnet = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=self.vpc.id,
                availability_zone=zone,
                cidr_block=str(blocks[4 + i]),
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-private-{i}", "Tier": "private"},
                opts=child,
            )
            private.append(subnet)
            # Per-zone route table so each zone can use its own NAT gateway.
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}-rt", vpc_id=self.vpc.id, tags={"Name": f"{name}-private-{i}"}, opts=child
            )
            # Default IPv4 route through the zone's NAT gateway (or the shared one).
            aws.ec2.Route(
                f"{name}-private-{i}-route",
                route_table_id=rt.id,
                destination_cidr_block=_ANY_IPV4,
                nat_gateway_id=nats[i if args.nat_per_zone else 0].id,
                opts=child,
            )
            # Routes the private subnet through its table.
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}-rta", subnet_id=subnet.id, route_table_id=rt.id, opts=child
            )
            # Database subnet: no route out of the VPC at all.
            db_subnet = aws.ec2.Subnet(
                f"{name}-database-{i}",
                vpc_id=self.vpc.id,
                availability_zone=zone,
                cidr_block=str(blocks[8 + i]),
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-database-{i}", "Tier": "database"},
                opts=child,
            )
            database.append(db_subnet)
            # Routes the database subnet through the local-only table.
            aws.ec2.RouteTableAssociation(
                f"{name}-database-{i}-rta", subnet_id=db_subnet.id, route_table_id=database_rt.id, opts=child
            )

        return private, database

    def _security_groups(self, name: str, args: NetworkArgs) -> None:
        """One group per role; the optional parts' groups only where the settings ask for them."""
        # Load balancer: the only group open to the internet.
        self.alb_security_group = self._group(name, "alb", "Load balancer: HTTP and HTTPS from anywhere")
        # Service tasks: only the load balancer may connect.
        self.service_security_group = self._group(name, "service", "Service tasks: from the load balancer only")
        # Connection proxy: only the service (and the bastion) may connect.
        self.proxy_security_group = self._group(name, "proxy", "Connection proxy: from the service only")
        # Database: only the proxy (and the bastion) may connect.
        self.database_security_group = self._group(name, "database", "Database: from the proxy only")
        # Credential rotation function: no inbound; out to the database and AWS APIs.
        self.rotation_security_group = self._group(name, "rotation", "Credential rotation function: no inbound")
        self.bastion_security_group = (
            # Bastion: no inbound at all; reached through SSM Session Manager.
            self._group(name, "bastion", "SSM bastion: no inbound") if args.bastion else None
        )

        self.worker_security_group = (
            # Background workers and scheduled jobs: no inbound at all.
            self._group(name, "worker", "Workers and scheduled jobs: no inbound") if args.worker else None
        )
        self.cache_security_group = (
            # Cache: only the service and the workers may connect.
            self._group(name, "cache", "Cache: from the service and the workers only") if args.cache else None
        )
        self.release_check_security_group = (
            # The release check function: no inbound; out to the test listener and HTTPS (its token) only.
            self._group(name, "release-check", "Release check function: no inbound")
            if args.release_test_port is not None
            else None
        )

    def _rules(self, name: str, args: NetworkArgs) -> None:
        """The rules chaining the groups: internet, load balancer, service, proxy, database; HTTPS out through NAT."""
        child = pulumi.ResourceOptions(parent=self)
        alb, svc = self.alb_security_group, self.service_security_group
        proxy, db, bastion = self.proxy_security_group, self.database_security_group, self.bastion_security_group
        for port in (80, 443):
            for label, cidr in (("v4", _ANY_IPV4), ("v6", _ANY_IPV6)):
                # The public entry point: the load balancer's listeners.
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-alb-in-{port}-{label}",
                    security_group_id=alb.id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ipv4=cidr if label == "v4" else None,
                    cidr_ipv6=cidr if label == "v6" else None,
                    description=f"HTTP{'S' if port == 443 else ''} from the internet",
                    opts=child,
                )
        self._allow(name, "alb-to-service", alb, svc, args.app_port, "Load balancer to the service's tasks")
        self._allow(name, "service-to-proxy", svc, proxy, args.database_port, "Service to the proxy")
        self._allow(name, "proxy-to-database", proxy, db, args.database_port, "Proxy to the database")
        rotation = self.rotation_security_group
        self._allow(name, "rotation-to-database", rotation, db, args.database_port, "Rotation function to the database")
        # Tasks reach ECR, Secrets Manager and CloudWatch Logs over HTTPS through NAT.
        self._https_out(name, "service", svc, "HTTPS to AWS APIs")
        # The proxy fetches its credentials from Secrets Manager over HTTPS through NAT.
        self._https_out(name, "proxy", proxy, "HTTPS to Secrets Manager")
        # The rotation function reads and writes the credentials secret over HTTPS through NAT.
        self._https_out(name, "rotation", rotation, "HTTPS to Secrets Manager")
        if bastion is not None:
            self._allow(name, "bastion-to-database", bastion, db, args.database_port, "Bastion to the database")
            # The SSM agent talks to Session Manager over HTTPS through NAT.
            self._https_out(name, "bastion", bastion, "HTTPS to SSM")

        worker, cache = self.worker_security_group, self.cache_security_group
        if worker is not None:
            self._allow(name, "worker-to-proxy", worker, proxy, args.database_port, "Workers to the proxy")
            # Workers reach ECR, Secrets Manager, CloudWatch and their queue's metrics over HTTPS through NAT.
            self._https_out(name, "worker", worker, "HTTPS to AWS APIs")
        if cache is not None:
            self._allow(name, "service-to-cache", svc, cache, args.cache_port, "Service to the cache")
            if worker is not None:
                self._allow(name, "worker-to-cache", worker, cache, args.cache_port, "Workers to the cache")

    def _release_check_rules(self, name: str, args: NetworkArgs) -> None:
        """The test listener's port, open to the NAT gateways' addresses only, and the check's way out to it.

        The load balancer is internet-facing: what runs in the private subnets reaches it at its public addresses,
        through NAT, so its group sees the NAT gateways' addresses, never the caller's group.
        """
        port, check = args.release_test_port, self.release_check_security_group
        if port is None or check is None:
            return
        child = pulumi.ResourceOptions(parent=self)
        for i, address in enumerate(self.nat_public_ips):
            # The test listener admits what leaves the stack's private subnets through this NAT gateway.
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-alb-in-test-{i}",
                security_group_id=self.alb_security_group.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=address.apply(lambda ip: f"{ip}/32"),
                description="Test listener, from the stack's own NAT address only",
                opts=child,
            )
        # The check reaches the test listener at the load balancer's public addresses.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-release-check-out-test",
            security_group_id=check.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4=_ANY_IPV4,
            description="The load balancer's test listener",
            opts=child,
        )
        # The check gets its token from Cognito over HTTPS through NAT.
        self._https_out(name, "release-check", check, "HTTPS to Cognito")

    def _group(self, name: str, suffix: str, description: str) -> aws.ec2.SecurityGroup:
        """A security group without inline rules; rules are separate resources."""
        # The group itself; its rules are separate resources so groups can reference each other.
        return aws.ec2.SecurityGroup(
            f"{name}-{suffix}-sg",
            vpc_id=self.vpc.id,
            description=description,
            tags={"Name": f"{name}-{suffix}"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _https_out(self, name: str, who: str, group: aws.ec2.SecurityGroup, description: str) -> None:
        """Egress from `group` to any address on 443, the only way out to AWS APIs through NAT."""
        # Lets this group open HTTPS connections to AWS endpoints.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-{who}-out-https",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=_ANY_IPV4,
            description=description,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _allow(
        self,
        name: str,
        suffix: str,
        source: aws.ec2.SecurityGroup,
        target: aws.ec2.SecurityGroup,
        port: int,
        description: str,
    ) -> None:
        """Egress from `source` and ingress to `target` on one TCP port, by security-group reference."""
        child = pulumi.ResourceOptions(parent=self)
        # Lets the source group open connections to the target group on this port.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-{suffix}-out",
            security_group_id=source.id,
            referenced_security_group_id=target.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=description,
            opts=child,
        )
        # Lets the target group accept those connections and nothing else on this port.
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-{suffix}-in",
            security_group_id=target.id,
            referenced_security_group_id=source.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=description,
            opts=child,
        )


def _validate(args: NetworkArgs) -> None:
    """Raises ValueError naming the field and what is allowed."""
    require(args.zone_count in (2, 3), "zone_count", args.zone_count, "2 or 3")
    _ipv4_network(args.cidr)
    for field in ("app_port", "database_port", "cache_port"):
        port = getattr(args, field)
        require(1024 <= port <= 65535, field, port, "1024 to 65535")
    test = args.release_test_port
    require(test is None or 1024 <= test <= 65535, "release_test_port", test, "1024 to 65535, or None")


def _blocks(cidr: str) -> list[ipaddress.IPv4Network]:
    """Sixteen equal blocks: 0-2 public, 4-6 private (NAT), 8-10 database (no route out); the rest spare."""
    network = _ipv4_network(cidr)
    return list(network.subnets(new_prefix=network.prefixlen + 4))


def _ipv4_network(cidr: str) -> ipaddress.IPv4Network:
    """The VPC's range, or ValueError naming the field."""
    try:
        network = ipaddress.ip_network(cidr)
    except ValueError:
        network = None
    if not isinstance(network, ipaddress.IPv4Network) or not 16 <= network.prefixlen <= 20:
        raise invalid("cidr", cidr, "an IPv4 network from /16 to /20")
    return network


def _zone(names: list[str], index: int, wanted: int) -> str:
    """The index-th available zone, or a clear error if the region has too few."""
    if len(names) < wanted:
        raise ValueError(f"zone_count={wanted} is not allowed; allowed: at most {len(names)} in this region")
    return names[index] if index < len(names) else names[-1]


def _ipv6_block(vpc_block: str, index: int) -> str:
    """The index-th /64 of the VPC's IPv6 range."""
    network = ipaddress.ip_network(vpc_block)
    return str(next(itertools.islice(network.subnets(new_prefix=64), index, None)))
