"""The EC2 half of the topology: subnets, routes, gateways, network ACLs, interfaces and
the managed prefix lists that groups reference."""

from __future__ import annotations

from typing import Any

from secmonkey.collector.topology._paging import token_pages
from secmonkey.common.canonical import normalise_protocol
from secmonkey.common.topology import (
    AclEntry,
    Interface,
    NetworkAcl,
    Route,
    RouteTable,
    Subnet,
)


def subnets(ec2: Any) -> list[Subnet]:
    out = []
    for s in token_pages(ec2.describe_subnets, "Subnets", size=1000):
        cidrs = [s["CidrBlock"]] if s.get("CidrBlock") else []
        cidrs += [
            a["Ipv6CidrBlock"]
            for a in s.get("Ipv6CidrBlockAssociationSet", [])
            if (a.get("Ipv6CidrBlockState") or {}).get("State", "associated") == "associated"
        ]
        out.append(Subnet(id=s["SubnetId"], vpc_id=s.get("VpcId", ""), cidrs=cidrs))
    return out


def _route(r: dict[str, Any]) -> Route | None:
    destination = (
        r.get("DestinationCidrBlock")
        or r.get("DestinationIpv6CidrBlock")
        or r.get("DestinationPrefixListId")
    )
    target = (
        r.get("GatewayId")
        or r.get("EgressOnlyInternetGatewayId")
        or r.get("NatGatewayId")
        or r.get("TransitGatewayId")
        or r.get("VpcPeeringConnectionId")
        or r.get("NetworkInterfaceId")
        or r.get("InstanceId")
        or r.get("LocalGatewayId")
        or r.get("CarrierGatewayId")
        or "unknown"
    )
    if not destination:
        return None
    return Route(destination=destination, target=target, active=r.get("State") != "blackhole")


def route_tables(ec2: Any) -> list[RouteTable]:
    out = []
    for t in token_pages(ec2.describe_route_tables, "RouteTables", size=100):
        associations = [
            a
            for a in t.get("Associations", [])
            if (a.get("AssociationState") or {}).get("State", "associated") == "associated"
        ]
        routes = [r for r in (_route(x) for x in t.get("Routes", [])) if r is not None]
        out.append(
            RouteTable(
                id=t["RouteTableId"],
                vpc_id=t.get("VpcId", ""),
                main=any(a.get("Main") for a in associations),
                subnet_ids=sorted(a["SubnetId"] for a in associations if a.get("SubnetId")),
                routes=routes,
            )
        )
    return out


def internet_gateways(ec2: Any) -> dict[str, list[str]]:
    return {
        g["InternetGatewayId"]: sorted(
            a["VpcId"]
            for a in g.get("Attachments", [])
            if a.get("VpcId") and a.get("State") in ("available", "attached", None)
        )
        for g in token_pages(ec2.describe_internet_gateways, "InternetGateways", size=1000)
    }


def egress_only_gateways(ec2: Any) -> list[str]:
    return sorted(
        g["EgressOnlyInternetGatewayId"]
        for g in token_pages(
            ec2.describe_egress_only_internet_gateways, "EgressOnlyInternetGateways", size=255
        )
    )


def _entry(e: dict[str, Any]) -> AclEntry | None:
    cidr = e.get("CidrBlock") or e.get("Ipv6CidrBlock")
    if not cidr:
        return None
    ports = e.get("PortRange") or {}
    return AclEntry(
        number=int(e["RuleNumber"]),
        egress=bool(e.get("Egress")),
        protocol=normalise_protocol(e.get("Protocol", "-1")),
        from_port=ports.get("From"),
        to_port=ports.get("To"),
        cidr=cidr,
        allow=e.get("RuleAction") == "allow",
    )


def network_acls(ec2: Any) -> list[NetworkAcl]:
    out = []
    for acl in token_pages(ec2.describe_network_acls, "NetworkAcls", size=100):
        entries = [x for x in (_entry(e) for e in acl.get("Entries", [])) if x is not None]
        out.append(
            NetworkAcl(
                id=acl["NetworkAclId"],
                vpc_id=acl.get("VpcId", ""),
                default=bool(acl.get("IsDefault")),
                subnet_ids=sorted(
                    a["SubnetId"] for a in acl.get("Associations", []) if a.get("SubnetId")
                ),
                entries=sorted(entries, key=lambda x: (x.egress, x.number)),
            )
        )
    return out


def interfaces(raw: list[dict[str, Any]]) -> list[Interface]:
    """The interfaces `DescribeNetworkInterfaces` listed (read once, for the groups too)."""
    out = []
    for eni in raw:
        association = eni.get("Association") or {}
        out.append(
            Interface(
                id=eni.get("NetworkInterfaceId", ""),
                subnet_id=eni.get("SubnetId"),
                vpc_id=eni.get("VpcId"),
                type=eni.get("InterfaceType") or "interface",
                instance_id=(eni.get("Attachment") or {}).get("InstanceId"),
                group_ids=sorted(g["GroupId"] for g in eni.get("Groups", []) if g.get("GroupId")),
                public_ipv4=association.get("PublicIp"),
                elastic_ip=bool(association.get("AllocationId"))
                or association.get("IpOwnerId") not in (None, "amazon"),
                ipv6=sorted(
                    a["Ipv6Address"] for a in eni.get("Ipv6Addresses", []) if a.get("Ipv6Address")
                ),
            )
        )
    return out


def prefix_lists(ec2: Any, ids: set[str]) -> dict[str, list[str]]:
    """The CIDRs of the managed prefix lists the groups' rules name."""
    out: dict[str, list[str]] = {}
    for pl_id in sorted(ids):
        entries = token_pages(ec2.get_managed_prefix_list_entries, "Entries", PrefixListId=pl_id)
        out[pl_id] = sorted({e["Cidr"] for e in entries if e.get("Cidr")})
    return out


def referenced_prefix_lists(raw_groups: list[dict[str, Any]]) -> set[str]:
    return {
        ref["PrefixListId"]
        for g in raw_groups
        for perm in g.get("IpPermissions", []) + g.get("IpPermissionsEgress", [])
        for ref in perm.get("PrefixListIds", [])
        if ref.get("PrefixListId")
    }


def group_references(raw_groups: list[dict[str, Any]]) -> dict[str, set[str]]:
    """group id → the groups whose rules name it (a group so named is in use)."""
    out: dict[str, set[str]] = {}
    for g in raw_groups:
        for perm in g.get("IpPermissions", []) + g.get("IpPermissionsEgress", []):
            for pair in perm.get("UserIdGroupPairs", []):
                target = pair.get("GroupId")
                if target and target != g.get("GroupId"):
                    out.setdefault(target, set()).add(f"rule of {g['GroupId']}")
    return out
