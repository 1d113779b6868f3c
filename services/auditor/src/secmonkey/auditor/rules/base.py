"""What an audit rule is: a small pure function of (group, context, settings) and its metadata."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from secmonkey.auditor.rules.rule_settings import PortSpec, RuleSettings
from secmonkey.common.canonical import Attachments, CanonicalGroup, Rule
from secmonkey.common.cidr import IPNetwork, parse_network
from secmonkey.common.errors import InvalidInput
from secmonkey.common.severity import Severity

CIS = "CIS AWS Foundations"
PCI = "PCI DSS 4.0"
HIPAA = "HIPAA 164.312(e)(1)"
SOC2 = "SOC 2 CC6.6"
FSBP = "AWS FSBP"
NIST = "NIST 800-53 rev 5"  # see README.md beside this file for the mapping


@dataclass(frozen=True, slots=True)
class RawFinding:
    """What a rule reports before settings, exposure and silencing are applied."""

    message: str
    rule_text: str = ""
    rule_index: int | None = None
    severity: Severity | None = None  # a rule-specific variant (80/443 is low); None: the default
    network: str | None = None  # the offending CIDR, matched against the allowlist
    account: str | None = None  # the offending account, matched against trusted accounts


@dataclass(frozen=True)
class RuleContext:
    """Everything outside the group itself that a rule may look at."""

    account_id: str
    region: str
    attachments: Attachments = field(default_factory=Attachments)
    monitored_accounts: frozenset[str] = frozenset()
    trusted_accounts: frozenset[str] = frozenset()
    allowlist: tuple[tuple[str, IPNetwork], ...] = ()
    # Set by the engine so that the internet-* rules report each rule once: the ports
    # internet-admin-port covers, and whether internet-all-ports is enabled.
    admin_ports: tuple[PortSpec, ...] = ()
    all_ports_enabled: bool = True

    def known_account(self, account: str) -> bool:
        return (
            account == self.account_id
            or account in self.monitored_accounts
            or account in self.trusted_accounts
        )

    def allowlisted(self, cidr: str) -> str | None:
        """The name of the allowlisted network containing `cidr`, if any."""
        try:
            network = parse_network(cidr)
        except InvalidInput:
            return None
        for name, allowed in self.allowlist:
            if network.version == allowed.version and network.subnet_of(allowed):  # type: ignore[arg-type]
                return name
        return None


Check = Callable[[CanonicalGroup, RuleContext, RuleSettings], Iterable[RawFinding]]


@dataclass(frozen=True)
class AuditRule:
    """One entry of the audit table (DESIGN §5)."""

    id: str
    title: str
    default_severity: Severity
    compliance: tuple[str, ...]
    check: Check
    default_enabled: bool = True
    exposure_sensitive: bool = True  # lowered when unattached, raised when public


def indexed_rules(group: CanonicalGroup) -> Iterable[tuple[int, Rule]]:
    return enumerate(group.rules)


def is_cidr(rule: Rule) -> bool:
    return rule.source_kind in ("cidr4", "cidr6")


def network_of(rule: Rule) -> IPNetwork | None:
    if not is_cidr(rule):
        return None
    try:
        return parse_network(rule.source)
    except InvalidInput:
        return None
