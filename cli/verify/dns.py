"""DNS checks: the service's A and AAAA records exist, alias the load balancer, and the name resolves."""

from __future__ import annotations

from typing import Any

from cli.verify import identify
from cli.verify.context import Context, Resolver
from cli.verify.model import Check, judge
from stacks import outputs as out

FAMILY = "dns"
RECORD_TYPES = ("A", "AAAA")
"""The alias records the program declares: IPv4 and IPv6."""


def records_for(ctx: Context, zone: str, host: str) -> dict[str, dict[str, Any]]:
    """The zone's A and AAAA records named `host`, by type."""
    wanted = host.lower().rstrip(".") + "."
    answer = ctx.client("route53").list_resource_record_sets(
        HostedZoneId=zone, StartRecordName=wanted, StartRecordType="A", MaxItems="10"
    )
    found: dict[str, dict[str, Any]] = {}
    for record in answer.get("ResourceRecordSets", []):
        if record.get("Name", "").lower() == wanted and record.get("Type") in RECORD_TYPES:
            found.setdefault(record["Type"], record)
    return found


def check_exists(host: str, zone: str, records: dict[str, dict[str, Any]]) -> Check:
    """Both an A and an AAAA record exist for the host."""
    missing = [kind for kind in RECORD_TYPES if kind not in records]
    present = [kind for kind in RECORD_TYPES if kind in records]
    observed = f"no {' or '.join(missing)} record in zone {zone}" if missing else "A and AAAA records present"
    if missing and present:
        observed += f" (only {', '.join(present)})"
    return judge(FAMILY, "record exists", not missing, observed, f"A and AAAA records for {host}", host)


def _target_words(record: dict[str, Any]) -> str:
    alias = record.get("AliasTarget")
    if alias:
        return f"{record['Type']} alias {identify.normalise_dns(alias.get('DNSName', ''))}"
    values = [r.get("Value", "") for r in record.get("ResourceRecords", [])]
    return f"{record['Type']} {', '.join(values) or 'no values'} (not an alias)"


def check_points_at_load_balancer(host: str, records: dict[str, dict[str, Any]], lb_dns: str) -> Check:
    """Every record present is an alias of the load balancer."""
    expected = f"alias of {identify.normalise_dns(lb_dns)}"
    if not records:
        return judge(FAMILY, "points at load balancer", False, "no record to follow", expected, host)
    wrong = [
        record
        for record in records.values()
        if identify.normalise_dns((record.get("AliasTarget") or {}).get("DNSName", ""))
        != identify.normalise_dns(lb_dns)
    ]
    observed = "; ".join(_target_words(record) for record in (wrong or records.values()))
    return judge(FAMILY, "points at load balancer", not wrong, observed, expected, host)


def check_resolves(host: str, resolver: Resolver) -> Check:
    """The host name resolves to at least one address."""
    expected = "resolves to at least one address"
    try:
        addresses = resolver(host)
    except OSError as exc:
        return judge(FAMILY, "resolves", False, f"does not resolve ({exc})", expected, host)
    observed = f"resolves to {', '.join(addresses)}" if addresses else "resolves to no address"
    return judge(FAMILY, "resolves", bool(addresses), observed, expected, host)


def verify(ctx: Context) -> list[Check]:
    """Every DNS check."""
    host = identify.host_name(ctx)
    zone = identify.zone_id(ctx)
    records = records_for(ctx, zone, host)
    lb_dns = str(ctx.require(out.LOAD_BALANCER_DNS, "load balancer DNS name"))
    return [
        check_exists(host, zone, records),
        check_points_at_load_balancer(host, records, lb_dns),
        check_resolves(host, ctx.resolver),
    ]
