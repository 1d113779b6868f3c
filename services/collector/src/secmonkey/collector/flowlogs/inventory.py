"""One account-region as flow-log attribution needs it: each interface's addresses and
groups, each group's ingress rules, and since when each interface has had flow logs.

Read in this module (`DescribeNetworkInterfaces`, `DescribeSecurityGroups`,
`DescribeFlowLogs`) so that flow-log reading does not depend on the sweep's messages.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from secmonkey.collector.flowlogs.records import EPHEMERAL_LOW
from secmonkey.collector.reader import pages
from secmonkey.common.canonical import Rule, canonical_from_aws
from secmonkey.common.item_keys import item_key
from secmonkey.common.rule_usage import FlowLogPlace

_PROTOCOL_NUMBERS = {"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58"}
IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class RuleMatcher:
    """One ingress rule of one group, ready to match flows."""

    group_id: str
    text: str
    protocol: str  # a protocol number, or "-1"
    low: int
    high: int
    network: IPNet | None = None
    source_group: str | None = None
    version: int = 0
    net: int = 0
    mask: int = 0

    def contains(
        self, version: int, value: int, src: str, group_addresses: dict[str, frozenset[str]]
    ) -> bool:
        if self.network is not None:
            return version == self.version and value & self.mask == self.net
        return src in group_addresses.get(self.source_group or "", frozenset())

    @property
    def opens_ephemeral(self) -> bool:
        return self.high >= EPHEMERAL_LOW

    @classmethod
    def of(cls, group_id: str, rule: Rule) -> RuleMatcher | None:
        protocol = _PROTOCOL_NUMBERS.get(rule.protocol, rule.protocol)
        low, high = rule.port_range or (0, 65535)
        if rule.source_kind in ("cidr4", "cidr6"):
            network = ipaddress.ip_network(rule.source, strict=False)
            return cls(
                group_id,
                rule.text(),
                protocol,
                low,
                high,
                network=network,
                version=network.version,
                net=int(network.network_address),
                mask=int(network.netmask),
            )
        if rule.source_kind == "group":
            return cls(group_id, rule.text(), protocol, low, high, source_group=rule.source)
        return None  # prefix lists are not expanded here: such rules stay unknown


@dataclass
class Inventory:
    account_id: str
    region: str
    addresses: dict[str, frozenset[str]] = field(default_factory=dict)
    interface_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rules: dict[str, list[RuleMatcher]] = field(default_factory=dict)
    group_addresses: dict[str, frozenset[str]] = field(default_factory=dict)
    logged_since: dict[str, datetime] = field(default_factory=dict)
    rule_texts: dict[str, list[str]] = field(default_factory=dict)
    unresolved: set[tuple[str, str]] = field(default_factory=set)
    _ips: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    _candidates: dict[tuple[str, str, int], tuple[RuleMatcher, ...]] = field(default_factory=dict)
    _by_group: dict[str, list[str]] | None = None  # built on first use, after reading

    def key(self, group_id: str) -> str:
        return item_key(self.account_id, self.region, group_id)

    def interfaces_of(self, group_id: str) -> list[str]:
        if self._by_group is None:
            by_group: dict[str, list[str]] = {}
            for eni, groups in sorted(self.interface_groups.items()):
                for group in groups:
                    by_group.setdefault(group, []).append(eni)
            self._by_group = by_group
        return list(self._by_group.get(group_id, ()))

    def candidates(self, eni: str, protocol: str, port: int) -> tuple[RuleMatcher, ...]:
        """The interface's ingress rules open to this protocol and port (cached)."""
        key = (eni, protocol, port)
        found = self._candidates.get(key)
        if found is None:
            found = tuple(
                rule
                for group_id in self.interface_groups.get(eni, ())
                for rule in self.rules.get(group_id, ())
                if rule.protocol in ("-1", protocol)
                and (protocol not in ("6", "17") or rule.low <= port <= rule.high)
            )
            self._candidates[key] = found
        return found

    def match(self, eni: str, src: str, protocol: str, port: int) -> tuple[RuleMatcher, ...]:
        """The ingress rules of the interface's groups that allow this flow (called once
        per distinct flow key: the checks of `RuleMatcher.contains` are inlined)."""
        rules = self._candidates.get((eni, protocol, port))
        if rules is None:
            rules = self.candidates(eni, protocol, port)
        if not rules:
            return rules
        address = self._ips.get(src, _UNSEEN)
        if address is _UNSEEN:
            address = _address(src)
            if len(self._ips) > 1_000_000:
                self._ips.clear()
            self._ips[src] = address
        if address is None:
            return ()
        version, value = address
        found: list[RuleMatcher] = []
        for rule in rules:
            if rule.network is not None:
                if version == rule.version and value & rule.mask == rule.net:
                    found.append(rule)
            elif rule.contains(version, value, src, self.group_addresses):
                found.append(rule)
        return tuple(found)


_UNSEEN: Any = object()


def _address(text: str) -> tuple[int, int] | None:
    try:
        if ":" in text:
            return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
        return 4, int.from_bytes(socket.inet_aton(text), "big")
    except OSError:
        return None


def _interface_addresses(eni: dict[str, Any]) -> frozenset[str]:
    found: set[str] = set()
    for private in eni.get("PrivateIpAddresses", []):
        if private.get("PrivateIpAddress"):
            found.add(private["PrivateIpAddress"])
        public = (private.get("Association") or {}).get("PublicIp")
        if public:
            found.add(public)
    if eni.get("PrivateIpAddress"):
        found.add(eni["PrivateIpAddress"])
    for v6 in eni.get("Ipv6Addresses", []):
        if v6.get("Ipv6Address"):
            found.add(v6["Ipv6Address"])
    return frozenset(found)


def _delivers_to(flow_log: dict[str, Any], places: list[FlowLogPlace]) -> bool:
    destination = flow_log.get("LogDestination") or ""
    group = flow_log.get("LogGroupName") or ""
    for place in places:
        if place.kind == "s3" and destination.startswith(f"arn:aws:s3:::{place.bucket}"):
            return True
        if place.kind == "cloudwatch" and (
            group == place.log_group or destination.endswith(f":log-group:{place.log_group}")
        ):
            return True
    return False


def read_inventory(ec2: Any, account_id: str, region: str, places: list[FlowLogPlace]) -> Inventory:
    """Read the region; `logged_since` holds the interfaces whose flow logs (on the
    interface, its subnet or its VPC, accepted traffic included) go to one of `places`."""
    inventory = Inventory(account_id, region)
    interfaces = list(pages(ec2.describe_network_interfaces, "NetworkInterfaces"))
    for entry in pages(ec2.describe_security_groups, "SecurityGroups"):
        config = canonical_from_aws(entry)
        matchers = [RuleMatcher.of(config.group_id, r) for r in config.rules]
        ingress = [
            (m, r) for m, r in zip(matchers, config.rules, strict=True) if r.direction == "ingress"
        ]
        inventory.rules[config.group_id] = [m for m, _ in ingress if m is not None]
        inventory.rule_texts[config.group_id] = [r.text() for _, r in ingress]
        inventory.unresolved.update((config.group_id, r.text()) for m, r in ingress if m is None)
    by_group: dict[str, set[str]] = {}
    for eni in interfaces:
        eni_id = eni["NetworkInterfaceId"]
        groups = tuple(g["GroupId"] for g in eni.get("Groups", []) if g.get("GroupId"))
        own = _interface_addresses(eni)
        inventory.addresses[eni_id] = own
        inventory.interface_groups[eni_id] = groups
        for group_id in groups:
            by_group.setdefault(group_id, set()).update(own)
    inventory.group_addresses = {g: frozenset(a) for g, a in by_group.items()}
    since: dict[str, datetime] = {}
    for flow_log in pages(ec2.describe_flow_logs, "FlowLogs"):
        if flow_log.get("FlowLogStatus", "ACTIVE") != "ACTIVE":
            continue
        if flow_log.get("TrafficType", "ALL") == "REJECT" or not _delivers_to(flow_log, places):
            continue
        created = flow_log.get("CreationTime")
        if isinstance(created, datetime):
            resource = flow_log.get("ResourceId", "")
            if resource not in since or created < since[resource]:
                since[resource] = created
    for eni in interfaces:
        candidates = [
            since[r]
            for r in (eni["NetworkInterfaceId"], eni.get("SubnetId"), eni.get("VpcId"))
            if r in since
        ]
        if candidates:
            inventory.logged_since[eni["NetworkInterfaceId"]] = min(candidates)
    return inventory
