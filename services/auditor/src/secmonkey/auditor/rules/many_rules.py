"""many-rules: more than 50 rules, hard to review and close to AWS's quota."""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.rules.base import NIST, SOC2, AuditRule, RawFinding, RuleContext
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.severity import Severity

DEFAULT_MAX_RULES = 50


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    limit = settings.max_rules if settings.max_rules is not None else DEFAULT_MAX_RULES
    if len(group.rules) > limit:
        yield RawFinding(message=f"group has {len(group.rules)} rules (more than {limit})")


RULE = AuditRule(
    id="many-rules",
    title="Too many rules",
    default_severity=Severity.LOW,
    compliance=(
        SOC2,
        f"{NIST} CM-6",
        f"{NIST} CM-7(1)",
    ),
    check=check,
)
