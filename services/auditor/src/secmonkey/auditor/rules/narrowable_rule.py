"""narrowable-rule: a wide ingress rule (from the internet, or from a public range at least
as wide as `ipv4_prefix`/`ipv6_prefix`, default /16 and /32) whose traffic over the flow-log
window came from at most `max_networks` (3) networks (/24, /48): a suggestion to narrow it.

Only exact source counts are judged: beyond the per-rule bound the count is an estimate,
and a rule with that many sources is not narrowable anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from secmonkey.auditor.rules.base import PCI, SOC2, AuditRule, RawFinding, RuleContext, network_of
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.severity import Severity

DEFAULT_MAX_NETWORKS = 3
DEFAULT_MIN_HITS = 1


def check(group: CanonicalGroup, ctx: RuleContext, settings: RuleSettings) -> Iterable[RawFinding]:
    max_networks = settings.max_networks or DEFAULT_MAX_NETWORKS
    min_hits = settings.min_hits or DEFAULT_MIN_HITS
    v4 = settings.ipv4_prefix if settings.ipv4_prefix is not None else 16
    v6 = settings.ipv6_prefix if settings.ipv6_prefix is not None else 32
    usage = {u.rule: u for u in ctx.attachments.usage}
    for index, rule in enumerate(group.rules):
        network = network_of(rule)
        if rule.direction != "ingress" or network is None:
            continue
        if network.prefixlen > (v4 if network.version == 4 else v6):
            continue
        facts = usage.get(rule.text())
        if facts is None or facts.approximate or facts.hits < min_hits:
            continue
        if not 0 < facts.network_count <= max_networks:
            continue
        if facts.covered_since is None:
            continue  # some interface is not logged: traffic through it is unseen
        nets = ", ".join(n.source for n in facts.networks)
        plural = "network" if facts.network_count == 1 else "networks"
        yield RawFinding(
            message=f"{rule.source} {rule.ports_text()}: {facts.window_days} days of traffic "
            f"from {facts.network_count} {plural}: {nets}",
            rule_text=rule.text(),
            rule_index=index,
        )


RULE = AuditRule(
    id="narrowable-rule",
    title="Wide rule used by few networks",
    default_severity=Severity.LOW,
    compliance=(f"{PCI} 1.3.1", SOC2),
    check=check,
    exposure_sensitive=False,
)
