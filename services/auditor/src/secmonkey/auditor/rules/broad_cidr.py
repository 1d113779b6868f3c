"""broad-cidr: ingress from a public range wider than /24 (IPv4) or /48 (IPv6)."""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.rules.base import (
    NIST,
    PCI,
    SOC2,
    AuditRule,
    RawFinding,
    RuleContext,
    network_of,
)
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.cidr import Scope, broader_than, classify
from secmonkey.common.severity import Severity

DEFAULT_IPV4_PREFIX = 24
DEFAULT_IPV6_PREFIX = 48


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    v4 = settings.ipv4_prefix if settings.ipv4_prefix is not None else DEFAULT_IPV4_PREFIX
    v6 = settings.ipv6_prefix if settings.ipv6_prefix is not None else DEFAULT_IPV6_PREFIX
    for index, rule in enumerate(group.rules):
        network = network_of(rule)
        if rule.direction != "ingress" or network is None or classify(network) is not Scope.PUBLIC:
            continue
        if broader_than(network, v4, v6):
            limit = v4 if network.version == 4 else v6
            yield RawFinding(
                message=(
                    f"{rule.text()}: public range {rule.source} is wider than /{limit} "
                    f"({network.num_addresses:,} addresses)"
                ),
                rule_text=rule.text(),
                rule_index=index,
                network=rule.source,
            )


RULE = AuditRule(
    id="broad-cidr",
    title="Ingress from a broad public range",
    default_severity=Severity.MEDIUM,
    compliance=(f"{PCI} 1.3.1", SOC2, f"{NIST} SC-7", f"{NIST} SC-7(5)", f"{NIST} AC-4"),
    check=check,
)
