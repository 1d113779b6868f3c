"""public-source: ingress from a specific public (globally routable, non-RFC 1918) range."""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.rules.base import NIST, SOC2, AuditRule, RawFinding, RuleContext, network_of
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.cidr import Scope, classify
from secmonkey.common.severity import Severity


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    for index, rule in enumerate(group.rules):
        network = network_of(rule)
        if rule.direction != "ingress" or network is None or classify(network) is not Scope.PUBLIC:
            continue
        yield RawFinding(
            message=f"{rule.text()}: ingress from the public range {rule.source}",
            rule_text=rule.text(),
            rule_index=index,
            network=rule.source,
        )


RULE = AuditRule(
    id="public-source",
    title="Ingress from a public range",
    default_severity=Severity.LOW,
    compliance=(
        SOC2,
        f"{NIST} SC-7",
        f"{NIST} AC-4",
    ),
    check=check,
)
