"""The exposure step of a finding's severity (replaces DESIGN §5's ±1 step when the
account-region's topology is known; see rules/README.md)."""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.exposure.reach import rule_sources
from secmonkey.auditor.rules.rule_settings import PortSpec
from secmonkey.common.canonical import Attachments, CanonicalGroup
from secmonkey.common.cidr import is_internet
from secmonkey.common.severity import Severity
from secmonkey.common.topology import Endpoint


def legacy_step(severity: Severity, exposure: str) -> Severity:
    """Without a topology: unattached lowers one step, a public IP raises one step."""
    if exposure == "unattached":
        return severity.lowered()
    if exposure == "public":
        return severity.raised()
    return severity


def opens_admin(endpoints: Iterable[Endpoint], admin_ports: Iterable[PortSpec]) -> bool:
    specs = list(admin_ports)
    for e in endpoints:
        if e.protocol == "-1" or any(lo == 0 and hi == 65535 for lo, hi in e.port_ranges):
            return True
        for spec in specs:
            if e.opens(spec.protocol, spec.low, spec.high):
                return True
    return False


def exposure_step(
    severity: Severity,
    group: CanonicalGroup,
    rule_index: int | None,
    attachments: Attachments,
    admin_ports: Iterable[PortSpec],
) -> Severity:
    """A finding about a rule from a public source: **critical** when the internet reaches
    an administrative port (or every port) through it (one step up for a narrower public
    source), unchanged when it reaches other ports only, one step down when nothing is
    reachable through it. A finding about anything else: one step down when nothing uses
    the group, one step up when some endpoint of it is exposed."""
    endpoints = attachments.endpoints
    if endpoints is None:
        return legacy_step(severity, attachments.exposure())
    rule = group.rules[rule_index] if rule_index is not None else None
    sources = rule_sources(rule, attachments.prefix_lists) if rule is not None else []
    if rule is None or rule.direction != "ingress" or not sources:
        if not attachments.in_use:
            return severity.lowered()
        return severity.raised() if endpoints else severity
    through = [e for e in endpoints if e.rule_text == rule.text()]
    if not through:
        return severity.lowered()
    if opens_admin(through, admin_ports):
        if any(is_internet(s) for s in sources):
            return Severity.CRITICAL
        return severity.raised()
    return severity


def reach_text(group: CanonicalGroup, rule_index: int | None, attachments: Attachments) -> str:
    """What the finding's message says about reachability ('' without a topology)."""
    endpoints = attachments.endpoints
    if endpoints is None or rule_index is None:
        return ""
    rule = group.rules[rule_index]
    if rule.direction != "ingress" or not rule_sources(rule, attachments.prefix_lists):
        return ""
    through = [e for e in endpoints if e.rule_text == rule.text()]
    if not through:
        return (
            "; not reachable from the internet (no public address routed to an internet"
            " gateway and let through by the network ACL)"
        )
    shown = "; ".join(e.text() for e in through[:3])
    more = f" (+{len(through) - 3} more)" if len(through) > 3 else ""
    return f"; reachable: {shown}{more}"
