"""internet-admin-port: ingress from the internet on an administrative or database port."""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.rules.base import (
    CIS,
    FSBP,
    HIPAA,
    PCI,
    SOC2,
    AuditRule,
    RawFinding,
    RuleContext,
)
from secmonkey.auditor.rules.internet import exposed_ports, from_internet
from secmonkey.auditor.rules.ports import DEFAULT_ADMIN_PORTS, port_label
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.severity import Severity


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    specs = settings.ports if settings.ports is not None else DEFAULT_ADMIN_PORTS
    for index, rule in from_internet(group, prefix_lists=ctx.attachments.prefix_lists):
        if rule.all_traffic and ctx.all_ports_enabled:
            continue  # internet-all-ports reports it
        exposed = exposed_ports(rule, specs)
        if exposed:
            labels = ", ".join(port_label(spec) for spec in exposed)
            yield RawFinding(
                message=f"{rule.text()}: administrative port {labels} open to the internet",
                rule_text=rule.text(),
                rule_index=index,
                network=rule.source,
            )


RULE = AuditRule(
    id="internet-admin-port",
    title="Administrative or database port open to the internet",
    default_severity=Severity.HIGH,
    compliance=(
        f"{CIS} 5.2",
        f"{CIS} 5.3",
        f"{PCI} 1.3.1",
        HIPAA,
        SOC2,
        f"{FSBP} EC2.13",
        f"{FSBP} EC2.14",
        f"{FSBP} EC2.19",
    ),
    check=check,
)
