"""unused-rule: an ingress rule no accepted inbound flow used for `days` days (30), judged
only when every interface of the group had VPC flow logs for that whole time.

A rule whose usage is unknown (an interface without flow logs, flows to ephemeral ports
that may be replies, a prefix-list source) is never reported unused.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from secmonkey.auditor.rules.base import PCI, SOC2, AuditRule, RawFinding, RuleContext
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.severity import Severity

DEFAULT_DAYS = 30


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    days = settings.days or DEFAULT_DAYS
    usage = {u.rule: u for u in ctx.attachments.usage}
    for index, rule in enumerate(group.rules):
        if rule.direction != "ingress":
            continue
        facts = usage.get(rule.text())
        if facts is None or facts.covered_since is None or facts.ambiguous:
            continue
        since = facts.as_of - timedelta(days=days)
        if facts.covered_since > since:
            continue
        if facts.last_used is not None and facts.last_used >= since:
            continue
        last = f"last used {facts.last_used:%Y-%m-%d}" if facts.last_used else "never used"
        yield RawFinding(
            message=f"{rule.text()}: no accepted inbound flow for {days} days ({last}; "
            f"every interface of the group logged since {facts.covered_since:%Y-%m-%d})",
            rule_text=rule.text(),
            rule_index=index,
        )


RULE = AuditRule(
    id="unused-rule",
    title="Unused rule",
    default_severity=Severity.LOW,
    compliance=(f"{PCI} 1.2.7", SOC2),
    check=check,
    exposure_sensitive=False,
)
