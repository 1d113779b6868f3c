"""The rules package as the stored rule catalog (`secmonkey.common.rule_catalog`)."""

from __future__ import annotations

from datetime import UTC, datetime

from secmonkey.auditor.rules import RULES
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.rule_catalog import CatalogRule


def catalog(config: RulesConfig, at: datetime | None = None) -> list[CatalogRule]:
    """Every rule with its compliance tags and whether `config` enables it (and where an
    account's own settings differ)."""
    at = at or datetime.now(UTC)
    out = []
    for rule in RULES:
        enabled = bool(config.settings_for(rule.id, "").enabled)
        overrides = {
            account: bool(config.settings_for(rule.id, account).enabled)
            for account in config.accounts
        }
        out.append(
            CatalogRule(
                id=rule.id,
                title=rule.title,
                default_severity=rule.default_severity,
                compliance=list(rule.compliance),
                enabled=enabled,
                account_overrides={a: on for a, on in overrides.items() if on != enabled},
                published_at=at,
            )
        )
    return out
