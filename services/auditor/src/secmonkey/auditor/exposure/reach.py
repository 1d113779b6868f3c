"""The exposed endpoints of one group: for each ingress rule from a public source, every
interface with a public address (and internet-facing load balancer) of the group that the
source reaches, on the ports that pass the rule, the route and the network ACL."""

from __future__ import annotations

from collections.abc import Iterator

from secmonkey.auditor.exposure.acl import passes
from secmonkey.auditor.exposure.index import TopologyIndex, split
from secmonkey.common.canonical import CanonicalGroup, Rule
from secmonkey.common.cidr import IPNetwork, Scope, classify, parse_network
from secmonkey.common.errors import InvalidInput
from secmonkey.common.topology import Endpoint, Interface, LoadBalancer, PortRange

_OPEN = (Scope.INTERNET, Scope.PUBLIC)


def rule_sources(rule: Rule, prefix_lists: dict[str, list[str]]) -> list[IPNetwork]:
    """The public networks a rule admits (a prefix list's entries expanded)."""
    if rule.source_kind in ("cidr4", "cidr6"):
        texts = [rule.source]
    elif rule.source_kind == "prefix_list":
        texts = prefix_lists.get(rule.source, [])
    else:
        return []
    out = []
    for text in texts:
        try:
            network = parse_network(text)
        except InvalidInput:
            continue
        if classify(network) in _OPEN:
            out.append(network)
    return out


def _protocols(rule: Rule) -> Iterator[tuple[str, int, int]]:
    if rule.protocol == "-1":
        yield ("tcp", 0, 65535)
        yield ("udp", 0, 65535)
    elif rule.port_range is not None:
        yield (rule.protocol, *rule.port_range)
    else:
        yield (rule.protocol, 0, 0)


def _interface_endpoints(
    rule: Rule, source: IPNetwork, eni: Interface, index: TopologyIndex
) -> Iterator[Endpoint]:
    addresses = eni.internet_addresses(source.version)
    if not addresses:
        return
    vpc = index.vpc_of(eni.subnet_id, eni.vpc_id)
    route = index.internet_route(index.route_table(eni.subnet_id, vpc), source, vpc)
    if route is None:
        return
    acl = index.acl(eni.subnet_id, vpc)
    inbound, outbound = split(acl)
    for protocol, low, high in _protocols(rule):
        ports = passes(inbound, outbound, source, protocol, low, high)
        if not ports:
            continue
        for address in addresses:
            yield Endpoint(
                resource_type="instance" if eni.instance_id else "interface",
                resource_id=eni.instance_id or eni.id,
                interface_id=eni.id,
                address=address,
                rule_text=rule.text(),
                protocol=protocol,
                ports=[PortRange(low=a, high=b) for a, b in ports]
                if protocol in ("tcp", "udp")
                else [],
                route=route,
                nacl=acl.id if acl else None,
            )


def _balancer_endpoints(
    rule: Rule, source: IPNetwork, lb: LoadBalancer, index: TopologyIndex
) -> Iterator[Endpoint]:
    if source.version == 6 and not lb.dualstack:
        return
    for protocol, low, high in _protocols(rule):
        wanted = "udp" if protocol == "udp" else "tcp"
        ports = sorted(
            {
                x.port
                for x in lb.listeners
                if ("udp" in x.protocol) == (wanted == "udp") and low <= x.port <= high
            }
        )
        if protocol not in ("tcp", "udp") or not ports:
            continue
        subnets: list[str | None] = list(lb.subnet_ids) or [None]
        passing: set[int] = set()
        for subnet in subnets:
            inbound, outbound = split(index.acl(subnet, lb.vpc_id))
            for port in ports:
                if passes(inbound, outbound, source, protocol, port, port):
                    passing.add(port)
        if passing:
            yield Endpoint(
                resource_type="load_balancer",
                resource_id=lb.id,
                address=lb.dns_name or lb.id,
                rule_text=rule.text(),
                protocol=protocol,
                ports=[PortRange(low=p, high=p) for p in sorted(passing)],
                route="internet-facing",
            )


def group_endpoints(group: CanonicalGroup, index: TopologyIndex) -> list[Endpoint]:
    """Every endpoint the internet (or a public source of a rule) reaches through `group`."""
    interfaces = index.interfaces.get(group.group_id, [])
    balancers = index.balancers.get(group.group_id, [])
    if not interfaces and not balancers:
        return []
    found: dict[tuple[str, str, str, str], Endpoint] = {}
    for rule in group.rules:
        if rule.direction != "ingress":
            continue
        for source in rule_sources(rule, index.topology.prefix_lists):
            for eni in interfaces:
                for e in _interface_endpoints(rule, source, eni, index):
                    found.setdefault((e.rule_text, e.interface_id or "", e.address, e.protocol), e)
            for lb in balancers:
                for e in _balancer_endpoints(rule, source, lb, index):
                    found.setdefault((e.rule_text, e.resource_id, e.address, e.protocol), e)
    return sorted(found.values(), key=lambda e: (e.rule_text, e.resource_id, e.address))
