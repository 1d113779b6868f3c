"""internet-ingress: any other ingress from the internet (low for web ports 80/443)."""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.rules.base import FSBP, HIPAA, PCI, SOC2, AuditRule, RawFinding, RuleContext
from secmonkey.auditor.rules.internet import exposed_ports, from_internet
from secmonkey.auditor.rules.ports import DEFAULT_LOW_PORTS
from secmonkey.auditor.rules.rule_settings import PortSpec, RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.severity import Severity


def _within(rule_ports: tuple[int, int], protocol: str, specs: Iterable[PortSpec]) -> bool:
    low, high = rule_ports
    return any(
        spec.protocol == protocol and spec.low <= low and high <= spec.high for spec in specs
    )


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    low_ports = settings.low_ports if settings.low_ports is not None else DEFAULT_LOW_PORTS
    for index, rule in from_internet(group, prefix_lists=ctx.attachments.prefix_lists):
        if (rule.all_traffic and ctx.all_ports_enabled) or exposed_ports(rule, ctx.admin_ports):
            continue  # internet-all-ports / internet-admin-port report it
        ports = rule.port_range
        web = ports is not None and _within(ports, rule.protocol, low_ports)
        yield RawFinding(
            message=f"{rule.text()}: open to the internet",
            rule_text=rule.text(),
            rule_index=index,
            severity=Severity.LOW if web and settings.severity is None else None,
            network=rule.source,
        )


RULE = AuditRule(
    id="internet-ingress",
    title="Ingress from the internet",
    default_severity=Severity.MEDIUM,
    compliance=(f"{PCI} 1.3.1", HIPAA, SOC2, f"{FSBP} EC2.18"),
    check=check,
)
