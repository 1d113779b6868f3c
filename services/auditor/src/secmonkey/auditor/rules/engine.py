"""Run every enabled rule on one group and turn raw findings into issues-to-be."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from secmonkey.auditor.exposure.severity import exposure_step, reach_text
from secmonkey.auditor.rules import RULES
from secmonkey.auditor.rules.base import RawFinding, RuleContext
from secmonkey.auditor.rules.ports import DEFAULT_ADMIN_PORTS
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.documents import issue_id
from secmonkey.common.severity import Severity


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding on one group, with its stable identity (`issue_id`)."""

    issue_id: str
    rule_id: str
    severity: Severity
    message: str
    rule_text: str
    compliance: tuple[str, ...]
    rule_index: int | None = None


def prepare(config: RulesConfig, ctx: RuleContext) -> RuleContext:
    """Fill in what the internet-* rules need to know about each other's settings."""
    admin = config.settings_for("internet-admin-port", ctx.account_id)
    every = config.settings_for("internet-all-ports", ctx.account_id)
    admin_ports = (
        (admin.ports if admin.ports is not None else DEFAULT_ADMIN_PORTS) if admin.enabled else ()
    )
    return RuleContext(
        account_id=ctx.account_id,
        region=ctx.region,
        attachments=ctx.attachments,
        monitored_accounts=ctx.monitored_accounts,
        trusted_accounts=ctx.trusted_accounts,
        allowlist=ctx.allowlist,
        admin_ports=admin_ports,
        all_ports_enabled=bool(every.enabled),
    )


def silenced(raw: RawFinding, ctx: RuleContext) -> bool:
    """Allowlisted networks and trusted accounts silence the findings that name them."""
    if raw.network is not None and ctx.allowlisted(raw.network) is not None:
        return True
    return raw.account is not None and raw.account in ctx.trusted_accounts


def evaluate(
    key: str, group: CanonicalGroup, ctx: RuleContext, config: RulesConfig
) -> list[Finding]:
    """Every finding on `group`, sorted by issue id. `ctx` should come from `prepare`."""
    exposure_on = config.exposure.enabled
    admin_ports = ctx.admin_ports or DEFAULT_ADMIN_PORTS
    findings: dict[str, Finding] = {}
    for rule in RULES:
        settings = config.settings_for(rule.id, ctx.account_id)
        if not settings.enabled:
            continue
        for raw in rule.check(group, ctx, settings):
            if silenced(raw, ctx):
                continue
            severity = settings.severity or raw.severity or rule.default_severity
            message = raw.message
            if rule.exposure_sensitive and exposure_on:
                severity = exposure_step(
                    severity, group, raw.rule_index, ctx.attachments, admin_ports
                )
                message += reach_text(group, raw.rule_index, ctx.attachments)
            identity = issue_id(key, rule.id, raw.rule_text)
            findings[identity] = Finding(
                issue_id=identity,
                rule_id=rule.id,
                severity=severity,
                message=message,
                rule_text=raw.rule_text,
                compliance=rule.compliance,
                rule_index=raw.rule_index,
            )
    return [findings[k] for k in sorted(findings)]


def findings_digest(findings: list[Finding]) -> str:
    """Changes whenever the set of findings, a severity or a message does."""
    h = hashlib.sha256()
    for f in findings:
        h.update(f"{f.issue_id}|{f.severity.value}|{f.message}|{','.join(f.compliance)}\n".encode())
    return h.hexdigest()[:24]
