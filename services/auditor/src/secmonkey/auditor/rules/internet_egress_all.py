"""internet-egress-all: egress to the internet on every port (AWS's default, so off by default)."""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.rules.base import PCI, SOC2, AuditRule, RawFinding, RuleContext
from secmonkey.auditor.rules.internet import from_internet
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.severity import Severity


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    for index, rule in from_internet(group, "egress", ctx.attachments.prefix_lists):
        if rule.all_traffic:
            yield RawFinding(
                message=f"{rule.text()}: every port open towards the internet",
                rule_text=rule.text(),
                rule_index=index,
                network=rule.source,
            )


RULE = AuditRule(
    id="internet-egress-all",
    title="Egress to the internet on every port",
    default_severity=Severity.INFO,
    compliance=(f"{PCI} 1.3.2", SOC2),
    check=check,
    default_enabled=False,
)
