"""Helpers shared by the internet-* rules: which ingress rules come from the internet."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from secmonkey.auditor.rules.base import network_of
from secmonkey.auditor.rules.rule_settings import PortSpec
from secmonkey.common.canonical import CanonicalGroup, Rule
from secmonkey.common.cidr import is_internet, parse_network
from secmonkey.common.errors import InvalidInput


def from_internet(
    group: CanonicalGroup,
    direction: str = "ingress",
    prefix_lists: Mapping[str, list[str]] | None = None,
) -> Iterable[tuple[int, Rule]]:
    """(index, rule) of every rule whose source is 0.0.0.0/0 or ::/0, or a managed prefix
    list holding one of them (`prefix_lists`: the CIDRs of the lists the group names)."""
    for index, rule in enumerate(group.rules):
        if rule.direction != direction:
            continue
        if rule.source_kind == "prefix_list":
            if any(_internet(c) for c in (prefix_lists or {}).get(rule.source, [])):
                yield index, rule
            continue
        network = network_of(rule)
        if network is not None and is_internet(network):
            yield index, rule


def _internet(cidr: str) -> bool:
    try:
        return is_internet(parse_network(cidr))
    except InvalidInput:
        return False


def exposed_ports(rule: Rule, specs: Iterable[PortSpec]) -> list[PortSpec]:
    """The port specs `rule` opens (only for the protocol it names; -1 opens every one)."""
    ports = rule.port_range
    if ports is None:
        return []
    return [spec for spec in specs if spec.overlaps(rule.protocol, ports[0], ports[1])]
