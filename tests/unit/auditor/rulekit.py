"""Building blocks for rule tests: groups, rules and an evaluation with a given context."""

from __future__ import annotations

from secmonkey.auditor.rules.base import RuleContext
from secmonkey.auditor.rules.engine import Finding, evaluate, prepare
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.canonical import Attachments, CanonicalGroup, Rule
from secmonkey.common.cidr import parse_network

ACCOUNT = "111111111111"
KEY = f"aws:{ACCOUNT}:us-east-1:sg-1"
ATTACHED = Attachments(interface_count=1, interface_types=["interface"])
UNATTACHED = Attachments()
PUBLIC = Attachments(interface_count=1, interface_types=["interface"], public_ip=True)


def rule(
    protocol: str = "tcp",
    ports: tuple[int, int] | int | None = 22,
    source: str = "0.0.0.0/0",
    *,
    direction: str = "ingress",
    account: str | None = None,
) -> Rule:
    if isinstance(ports, int):
        ports = (ports, ports)
    low, high = ports if ports is not None else (None, None)
    if source.startswith("sg-"):
        kind = "group"
    elif source.startswith("pl-"):
        kind = "prefix_list"
    else:
        kind = "cidr6" if ":" in source else "cidr4"
    return Rule(
        direction=direction,  # type: ignore[arg-type]
        protocol=protocol,
        from_port=low,
        to_port=high,
        source_kind=kind,  # type: ignore[arg-type]
        source=source,
        source_account=account
        if kind != "group" or account
        else (ACCOUNT if kind == "group" else None),
    )


def group(*rules: Rule, name: str = "web", vpc: str | None = "vpc-1") -> CanonicalGroup:
    return CanonicalGroup(
        group_id="sg-1", name=name, vpc_id=vpc, owner_id=ACCOUNT, rules=list(rules)
    ).normalised()


def findings(
    g: CanonicalGroup,
    config: RulesConfig | None = None,
    *,
    attachments: Attachments = ATTACHED,
    monitored: frozenset[str] = frozenset(),
    trusted: frozenset[str] = frozenset(),
    allowlist: dict[str, str] | None = None,
    account: str = ACCOUNT,
) -> list[Finding]:
    config = config or RulesConfig()
    networks = dict(config.allowlist_for(account))
    networks.update({k: parse_network(v) for k, v in (allowlist or {}).items()})
    ctx = RuleContext(
        account_id=account,
        region="us-east-1",
        attachments=attachments,
        monitored_accounts=monitored,
        trusted_accounts=trusted | config.trusted_for(account),
        allowlist=tuple(networks.items()),
    )
    return evaluate(KEY, g, prepare(config, ctx), config)


def by_rule(found: list[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in found:
        out.setdefault(f.rule_id, []).append(f)
    return out


def rule_ids(found: list[Finding]) -> set[str]:
    return {f.rule_id for f in found}
