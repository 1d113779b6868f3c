"""Helpers shared by the internet-* rules: which ingress rules come from the internet."""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.rules.base import network_of
from secmonkey.auditor.rules.rule_settings import PortSpec
from secmonkey.common.canonical import CanonicalGroup, Rule
from secmonkey.common.cidr import is_internet


def from_internet(group: CanonicalGroup, direction: str = "ingress") -> Iterable[tuple[int, Rule]]:
    """(index, rule) of every rule whose source is 0.0.0.0/0 or ::/0."""
    for index, rule in enumerate(group.rules):
        if rule.direction != direction:
            continue
        network = network_of(rule)
        if network is not None and is_internet(network):
            yield index, rule


def exposed_ports(rule: Rule, specs: Iterable[PortSpec]) -> list[PortSpec]:
    """The port specs `rule` opens (only for the protocol it names; -1 opens every one)."""
    ports = rule.port_range
    if ports is None:
        return []
    return [spec for spec in specs if spec.overlaps(rule.protocol, ports[0], ports[1])]
