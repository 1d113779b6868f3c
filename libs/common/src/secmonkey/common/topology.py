"""The network around the security groups of one account-region, and what it exposes.

The collector reads it with every sweep (`secmonkey.collector.topology`) and sends it on
the first `SnapshotBatch` of the sweep; the auditor keeps the latest one per
account-region and computes, for every rule open to a public source, the **exposed
endpoints**: each instance, interface or load balancer with a public address whose
subnet routes that source to an internet gateway and whose network ACL lets the rule's
ports through (`secmonkey.auditor.exposure`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from secmonkey.common.dates import aware

ResourceType = Literal["instance", "interface", "load_balancer"]
RESOURCE_TYPES: tuple[ResourceType, ...] = ("instance", "interface", "load_balancer")


class Route(BaseModel):
    """One route: a destination (CIDR or prefix list) and where it goes."""

    destination: str
    target: str = Field(description="igw-…, eigw-…, nat-…, local, pcx-…, tgw-… (the next hop)")
    active: bool = True


class RouteTable(BaseModel):
    id: str
    vpc_id: str
    main: bool = False
    subnet_ids: list[str] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)


class AclEntry(BaseModel):
    """One network ACL entry (stateless: inbound and outbound are judged separately)."""

    number: int
    egress: bool
    protocol: str = Field(description="-1, tcp, udp, icmp, icmpv6 or a protocol number")
    from_port: int | None = None
    to_port: int | None = None
    cidr: str
    allow: bool


class NetworkAcl(BaseModel):
    id: str
    vpc_id: str
    default: bool = False
    subnet_ids: list[str] = Field(default_factory=list)
    entries: list[AclEntry] = Field(default_factory=list)


class Subnet(BaseModel):
    id: str
    vpc_id: str
    cidrs: list[str] = Field(default_factory=list)


class Interface(BaseModel):
    """A network interface with the addresses the internet could reach."""

    id: str
    subnet_id: str | None = None
    vpc_id: str | None = None
    type: str = "interface"
    instance_id: str | None = None
    group_ids: list[str] = Field(default_factory=list)
    public_ipv4: str | None = None
    elastic_ip: bool = False
    ipv6: list[str] = Field(default_factory=list)

    def internet_addresses(self, version: int) -> list[str]:
        """The addresses of IP `version` the internet could send to: the public IPv4
        address, the global IPv6 ones."""
        if version == 4:
            return [self.public_ipv4] if self.public_ipv4 else []
        return [a for a in self.ipv6 if ipaddress.ip_address(a).is_global]


class Listener(BaseModel):
    protocol: str
    port: int


class LoadBalancer(BaseModel):
    """An internet-facing load balancer (ELBv2 or classic) with its groups and listeners."""

    id: str = Field(description="the load balancer's name")
    kind: str = Field(description="application, network, gateway or classic")
    scheme: str = "internet-facing"
    dns_name: str = ""
    vpc_id: str | None = None
    subnet_ids: list[str] = Field(default_factory=list)
    group_ids: list[str] = Field(default_factory=list)
    listeners: list[Listener] = Field(default_factory=list)
    dualstack: bool = False


def reachable_at_all(interfaces: list[Interface], balancers: list[LoadBalancer]) -> bool:
    """Whether anything of an account-region could be reached from the internet: an
    interface of a group with an internet address, or an internet-facing load balancer
    with groups. Without one, the routes, gateways and network ACLs decide nothing (the
    collector then leaves them unread)."""
    return any(
        eni.group_ids and (eni.internet_addresses(4) or eni.internet_addresses(6))
        for eni in interfaces
    ) or any(lb.scheme == "internet-facing" and lb.group_ids for lb in balancers)


class Topology(BaseModel):
    """Everything about one account-region that decides what the internet can reach.

    The subnets, route tables, gateways and network ACLs are empty when nothing of the
    account-region could be reached at all (`reachable_at_all`): the collector reads them
    only when an interface or a load balancer needs them."""

    model_config = ConfigDict(frozen=False)

    account_id: str
    region: str
    observed_at: datetime
    subnets: list[Subnet] = Field(default_factory=list)
    route_tables: list[RouteTable] = Field(default_factory=list)
    internet_gateways: dict[str, list[str]] = Field(
        default_factory=dict, description="igw id → the VPCs it is attached to"
    )
    egress_only_gateways: list[str] = Field(default_factory=list)
    network_acls: list[NetworkAcl] = Field(default_factory=list)
    interfaces: list[Interface] = Field(default_factory=list)
    load_balancers: list[LoadBalancer] = Field(default_factory=list)
    prefix_lists: dict[str, list[str]] = Field(
        default_factory=dict, description="managed prefix list id → its CIDRs"
    )
    group_users: dict[str, list[str]] = Field(
        default_factory=dict,
        description="group id → what else uses it (launch template, Auto Scaling group, "
        "load balancer, RDS instance, Lambda function, ECS service, another group's rule)",
    )

    _aware_observed = field_validator("observed_at")(aware)

    def digest(self) -> str:
        text = self.model_dump_json(exclude={"observed_at"})
        return hashlib.sha256(text.encode()).hexdigest()[:24]


class PortRange(BaseModel):
    """An inclusive port range (an object, not a pair: FerretDB stores no nested arrays)."""

    model_config = ConfigDict(frozen=True)

    low: int
    high: int


class Endpoint(BaseModel):
    """One resource the internet reaches through one rule of a group."""

    model_config = ConfigDict(frozen=True)

    resource_type: ResourceType
    resource_id: str
    interface_id: str | None = None
    address: str
    rule_text: str
    protocol: str
    ports: list[PortRange] = Field(default_factory=list)
    route: str = Field(default="", description="rtb-…/igw-… (or `internet-facing` for an LB)")
    nacl: str | None = None

    @property
    def port_ranges(self) -> list[tuple[int, int]]:
        return [(p.low, p.high) for p in self.ports]

    def ports_text(self) -> str:
        if self.protocol == "-1":
            return "all traffic"
        parts = [f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in self.port_ranges]
        return f"{self.protocol}/{','.join(parts)}" if parts else self.protocol

    def text(self) -> str:
        """e.g. `i-0abc (54.1.2.3) tcp/22 via rtb-1/igw-2`."""
        return f"{self.resource_id} ({self.address}) {self.ports_text()} via {self.route}"

    def opens(self, protocol: str, low: int, high: int) -> bool:
        """Whether traffic of `protocol` on some port in [low, high] reaches this endpoint."""
        if self.protocol == "-1":
            return True
        if protocol not in ("-1", self.protocol):
            return False
        return any(lo <= high and low <= hi for lo, hi in self.port_ranges)


def endpoints_digest(endpoints: list[Endpoint], *extra: object) -> str:
    """Changes exactly when what is exposed (or what else is known) changes."""
    doc = [e.model_dump(mode="json") for e in sorted(endpoints, key=_endpoint_order)]
    text = json.dumps([doc, *extra], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _endpoint_order(e: Endpoint) -> tuple[str, str, str, str]:
    return (e.rule_text, e.resource_id, e.address, e.protocol)
