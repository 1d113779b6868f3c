"""unused-group: a non-default group attached to no network interface."""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.rules.base import FSBP, AuditRule, RawFinding, RuleContext
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.severity import Severity


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    # `in_use`: an interface, or (with a topology) a launch template, Auto Scaling group,
    # load balancer, RDS instance, Lambda function or another group's rule naming it.
    if not group.is_default and not ctx.attachments.in_use:
        yield RawFinding(message=f"group {group.name} ({group.group_id}) is attached to nothing")


RULE = AuditRule(
    id="unused-group",
    title="Unused group",
    default_severity=Severity.INFO,
    compliance=(f"{FSBP} EC2.22",),
    check=check,
    exposure_sensitive=False,
)
