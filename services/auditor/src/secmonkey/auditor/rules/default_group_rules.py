"""default-group-rules: a VPC's default group with any rule (CIS: it should allow nothing)."""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.rules.base import CIS, FSBP, NIST, PCI, AuditRule, RawFinding, RuleContext
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.severity import Severity


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    if group.is_default and group.vpc_id and group.rules:
        inbound = sum(1 for r in group.rules if r.direction == "ingress")
        outbound = len(group.rules) - inbound
        yield RawFinding(
            message=(
                f"default group of {group.vpc_id} has {inbound} inbound and {outbound} outbound "
                "rule(s); it should allow no traffic"
            )
        )


RULE = AuditRule(
    id="default-group-rules",
    title="Default group with rules",
    default_severity=Severity.MEDIUM,
    compliance=(
        f"{CIS} 5.4",
        f"{PCI} 1.2.1",
        f"{FSBP} EC2.2",
        f"{NIST} SC-7(5)",
        f"{NIST} CM-6",
        f"{NIST} CM-7",
    ),
    check=check,
)
