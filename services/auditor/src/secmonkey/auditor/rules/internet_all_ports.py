"""internet-all-ports: ingress from the internet on every port, or protocol -1."""

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
from secmonkey.auditor.rules.internet import from_internet
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.severity import Severity


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    for index, rule in from_internet(group, prefix_lists=ctx.attachments.prefix_lists):
        if rule.all_traffic:
            what = (
                "every protocol and port"
                if rule.protocol == "-1"
                else f"every {rule.protocol} port"
            )
            yield RawFinding(
                message=f"{rule.text()}: {what} open to the internet",
                rule_text=rule.text(),
                rule_index=index,
                network=rule.source,
            )


RULE = AuditRule(
    id="internet-all-ports",
    title="Ingress from the internet on every port",
    default_severity=Severity.CRITICAL,
    compliance=(
        f"{CIS} 5.2",
        f"{CIS} 5.3",
        f"{PCI} 1.3.1",
        HIPAA,
        SOC2,
        f"{FSBP} EC2.18",
        f"{FSBP} EC2.19",
    ),
    check=check,
)
