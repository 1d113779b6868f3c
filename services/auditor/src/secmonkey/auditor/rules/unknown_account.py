"""unknown-account: a rule referencing a group of an account neither monitored nor trusted."""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.rules.base import NIST, PCI, SOC2, AuditRule, RawFinding, RuleContext
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.severity import Severity


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    for index, rule in enumerate(group.rules):
        account = rule.source_account
        if rule.source_kind != "group" or not account or account == group.owner_id:
            continue
        if not ctx.known_account(account):
            yield RawFinding(
                message=f"{rule.text()}: references account {account}, neither monitored nor trusted",
                rule_text=rule.text(),
                rule_index=index,
                account=account,
            )


RULE = AuditRule(
    id="unknown-account",
    title="Reference to an unknown account",
    default_severity=Severity.HIGH,
    compliance=(f"{PCI} 1.3.1", SOC2, f"{NIST} AC-4", f"{NIST} CA-3", f"{NIST} SC-7"),
    check=check,
)
