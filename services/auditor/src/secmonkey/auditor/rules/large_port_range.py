"""large-port-range: a range wider than 100 ports open to anything outside the group."""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.rules.base import NIST, PCI, SOC2, AuditRule, RawFinding, RuleContext
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.severity import Severity

DEFAULT_MAX_PORTS = 100


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    limit = settings.max_ports if settings.max_ports is not None else DEFAULT_MAX_PORTS
    for index, rule in enumerate(group.rules):
        if rule.direction != "ingress" or rule.port_range is None:
            continue
        if rule.source_kind == "group" and rule.source == group.group_id:
            continue  # the group talking to itself
        low, high = rule.port_range
        count = high - low + 1
        if count > limit:
            yield RawFinding(
                message=f"{rule.text()}: {count:,} ports open (more than {limit})",
                rule_text=rule.text(),
                rule_index=index,
                network=rule.source if rule.source_kind in ("cidr4", "cidr6") else None,
                account=rule.source_account if rule.source_kind == "group" else None,
            )


RULE = AuditRule(
    id="large-port-range",
    title="Large port range",
    default_severity=Severity.LOW,
    compliance=(f"{PCI} 1.2.5", SOC2, f"{NIST} CM-7", f"{NIST} SC-7(5)"),
    check=check,
)
