"""A topology made searchable: per subnet its route table and network ACL, per group its
interfaces and internet-facing load balancers."""

from __future__ import annotations

from dataclasses import dataclass, field

from secmonkey.common.cidr import IPNetwork, parse_network
from secmonkey.common.errors import InvalidInput
from secmonkey.common.topology import (
    AclEntry,
    Interface,
    LoadBalancer,
    NetworkAcl,
    Route,
    RouteTable,
    Topology,
)


@dataclass
class TopologyIndex:
    topology: Topology
    tables: dict[str, RouteTable] = field(default_factory=dict)  # subnet → table
    main_tables: dict[str, RouteTable] = field(default_factory=dict)  # vpc → main table
    acls: dict[str, NetworkAcl] = field(default_factory=dict)  # subnet → ACL
    default_acls: dict[str, NetworkAcl] = field(default_factory=dict)  # vpc → default ACL
    subnet_vpc: dict[str, str] = field(default_factory=dict)
    gateways: dict[str, set[str]] = field(default_factory=dict)  # vpc → attached igw ids
    interfaces: dict[str, list[Interface]] = field(default_factory=dict)  # group → ENIs
    balancers: dict[str, list[LoadBalancer]] = field(default_factory=dict)  # group → LBs

    @classmethod
    def of(cls, topology: Topology) -> TopologyIndex:
        index = cls(topology)
        for subnet in topology.subnets:
            index.subnet_vpc[subnet.id] = subnet.vpc_id
        for table in topology.route_tables:
            if table.main:
                index.main_tables[table.vpc_id] = table
            for subnet_id in table.subnet_ids:
                index.tables[subnet_id] = table
        for acl in topology.network_acls:
            if acl.default:
                index.default_acls[acl.vpc_id] = acl
            for subnet_id in acl.subnet_ids:
                index.acls[subnet_id] = acl
        for igw, vpcs in topology.internet_gateways.items():
            for vpc in vpcs:
                index.gateways.setdefault(vpc, set()).add(igw)
        for eni in topology.interfaces:
            for group_id in eni.group_ids:
                index.interfaces.setdefault(group_id, []).append(eni)
        for lb in topology.load_balancers:
            for group_id in lb.group_ids:
                index.balancers.setdefault(group_id, []).append(lb)
        return index

    def vpc_of(self, subnet_id: str | None, vpc_id: str | None) -> str | None:
        return vpc_id or (self.subnet_vpc.get(subnet_id) if subnet_id else None)

    def route_table(self, subnet_id: str | None, vpc_id: str | None) -> RouteTable | None:
        """A subnet's explicit table, else its VPC's main table."""
        if subnet_id and subnet_id in self.tables:
            return self.tables[subnet_id]
        vpc = self.vpc_of(subnet_id, vpc_id)
        return self.main_tables.get(vpc) if vpc else None

    def acl(self, subnet_id: str | None, vpc_id: str | None) -> NetworkAcl | None:
        if subnet_id and subnet_id in self.acls:
            return self.acls[subnet_id]
        vpc = self.vpc_of(subnet_id, vpc_id)
        return self.default_acls.get(vpc) if vpc else None

    def destinations(self, route: Route) -> list[IPNetwork]:
        """A route's destination networks (a prefix list's CIDRs when it names one)."""
        texts = (
            self.topology.prefix_lists.get(route.destination, [])
            if route.destination.startswith("pl-")
            else [route.destination]
        )
        out = []
        for text in texts:
            try:
                out.append(parse_network(text))
            except InvalidInput:
                continue
        return out

    def internet_route(
        self, table: RouteTable | None, source: IPNetwork, vpc: str | None
    ) -> str | None:
        """`rtb-…/igw-…` when the most specific route covering `source` goes to an internet
        gateway attached to the VPC (an egress-only gateway never lets traffic in)."""
        if table is None:
            return None
        best: tuple[int, Route] | None = None
        for route in table.routes:
            for network in self.destinations(route):
                if network.version != source.version:
                    continue
                if source.subnet_of(network) and (best is None or network.prefixlen > best[0]):  # type: ignore[arg-type]
                    best = (network.prefixlen, route)
        if best is None:
            return None
        route = best[1]
        attached = self.gateways.get(vpc or table.vpc_id, set())
        if route.active and route.target.startswith("igw-") and route.target in attached:
            return f"{table.id}/{route.target}"
        return None


def split(acl: NetworkAcl | None) -> tuple[list[AclEntry], list[AclEntry]]:
    """(inbound, outbound) entries in evaluation order; no ACL at all lets everything by."""
    if acl is None:
        everything = AclEntry(number=1, egress=False, protocol="-1", cidr="0.0.0.0/0", allow=True)
        everything6 = everything.model_copy(update={"cidr": "::/0"})
        return [everything, everything6], [everything, everything6]
    entries = sorted(acl.entries, key=lambda e: e.number)
    return [e for e in entries if not e.egress], [e for e in entries if e.egress]
