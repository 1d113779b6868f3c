"""The audit rules of DESIGN §5, one module each, gathered in table order."""

from __future__ import annotations

from secmonkey.auditor.rules import (
    broad_cidr,
    default_group_rules,
    internet_admin_port,
    internet_all_ports,
    internet_egress_all,
    internet_ingress,
    large_port_range,
    many_rules,
    narrowable_rule,
    public_source,
    unknown_account,
    unused_group,
    unused_rule,
)
from secmonkey.auditor.rules.base import AuditRule

RULES: tuple[AuditRule, ...] = (
    internet_all_ports.RULE,
    internet_admin_port.RULE,
    internet_ingress.RULE,
    public_source.RULE,
    broad_cidr.RULE,
    large_port_range.RULE,
    unknown_account.RULE,
    default_group_rules.RULE,
    unused_group.RULE,
    many_rules.RULE,
    internet_egress_all.RULE,
    unused_rule.RULE,
    narrowable_rule.RULE,
)
RULES_BY_ID: dict[str, AuditRule] = {rule.id: rule for rule in RULES}
