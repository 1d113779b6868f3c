"""The posture of every account against one compliance framework.

Controls come from the rule catalog the auditor publishes (each rule's tags); a group
fails a control when it has an open issue of one of the control's rules, is justified
when its only issues of them are justified, and passes otherwise. Two aggregations (active
groups per account, open and justified issues per account, rule and group) and the
catalog make the whole view, whatever the number of groups.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from secmonkey.api.schemas.compliance import (
    CompliancePosture,
    ControlAccount,
    ControlPosture,
    ControlStatus,
    FrameworkView,
    RuleRef,
)
from secmonkey.common import frameworks, rule_catalog
from secmonkey.common.rule_catalog import CatalogRule
from secmonkey.common.storage import Database

_MAX_ROWS = 500_000


@dataclass
class _AccountIssues:
    open_keys: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # rule→keys
    justified_keys: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    open_count: dict[str, int] = field(default_factory=lambda: defaultdict(int))


async def list_frameworks(db: Database) -> list[FrameworkView]:
    rules = await rule_catalog.read(db)
    out = []
    for framework_id in frameworks.POSTURE_FRAMEWORKS:
        fw = frameworks.FRAMEWORKS[framework_id]
        controls = {c for r in rules for c in frameworks.controls_in(r.compliance, fw)}
        out.append(
            FrameworkView(id=fw.id, name=fw.name, tag_prefix=fw.tag_prefix, controls=len(controls))
        )
    return out


def _enabled_for(rule: CatalogRule, account_id: str) -> bool:
    return rule.account_overrides.get(account_id, rule.enabled)


async def _audited(db: Database, account_id: str | None) -> dict[str, int]:
    match: dict[str, Any] = {"state": "active"}
    if account_id:
        match["account_id"] = account_id
    pipeline: list[dict[str, Any]] = [
        {"$match": match},
        {"$group": {"_id": "$account_id", "n": {"$sum": 1}}},
    ]
    return {
        str(r["_id"]): int(r["n"]) async for r in await db.items.aggregate(pipeline) if r["_id"]
    }


async def _issues(
    db: Database, rule_ids: list[str], account_id: str | None
) -> dict[str, _AccountIssues]:
    match: dict[str, Any] = {
        "status": {"$in": ["open", "justified"]},
        "rule_id": {"$in": rule_ids},
    }
    if account_id:
        match["account_id"] = account_id
    pipeline: list[dict[str, Any]] = [
        {"$match": match},
        {
            "$group": {
                "_id": {"a": "$account_id", "r": "$rule_id", "k": "$key", "s": "$status"},
                "n": {"$sum": 1},
            }
        },
        {"$limit": _MAX_ROWS},
    ]
    out: dict[str, _AccountIssues] = defaultdict(_AccountIssues)
    async for row in await db.issues.aggregate(pipeline):
        ident = row["_id"]
        issues = out[str(ident["a"])]
        rule, key = str(ident["r"]), str(ident["k"])
        if ident["s"] == "open":
            issues.open_keys[rule].add(key)
            issues.open_count[rule] += int(row["n"])
        else:
            issues.justified_keys[rule].add(key)
    return out


async def _account_names(db: Database) -> dict[str, str]:
    docs = await db.accounts.find({}, {"name": 1}).to_list(None)
    return {str(d["_id"]): str(d.get("name") or "") for d in docs}


def _status(evaluated: bool, failed: int) -> ControlStatus:
    if not evaluated:
        return "not_evaluated"
    return "fail" if failed else "pass"


async def posture(
    db: Database, framework_id: str, account_id: str | None = None
) -> CompliancePosture:
    """Every control of the framework some rule tests, with pass/fail counts per account."""
    fw = frameworks.framework(framework_id)
    rules = await rule_catalog.read(db)
    by_control: dict[str, list[CatalogRule]] = defaultdict(list)
    for rule in rules:
        for control in frameworks.controls_in(rule.compliance, fw):
            by_control[control].append(rule)
    involved = sorted({r.id for rs in by_control.values() for r in rs})
    audited = await _audited(db, account_id)
    issues = await _issues(db, involved, account_id) if involved else {}
    names = await _account_names(db)
    accounts = sorted(set(audited) | set(issues))
    controls = []
    for control in sorted(by_control, key=_control_order):
        control_rules = by_control[control]
        rows = []
        for account in accounts:
            found = issues.get(account, _AccountIssues())
            live = [r for r in control_rules if _enabled_for(r, account)]
            failed_keys = set().union(*(found.open_keys.get(r.id, set()) for r in live))
            justified_keys = (
                set().union(*(found.justified_keys.get(r.id, set()) for r in live)) - failed_keys
            )
            total = max(audited.get(account, 0), len(failed_keys | justified_keys))
            failed, justified = len(failed_keys), len(justified_keys)
            rows.append(
                ControlAccount(
                    account_id=account,
                    account_name=names.get(account) or None,
                    status=_status(bool(live), failed),
                    audited=total,
                    passed=total - failed - justified if live else 0,
                    failed=failed,
                    justified=justified,
                    open_issues=sum(found.open_count.get(r.id, 0) for r in live),
                )
            )
        evaluated = [row for row in rows if row.status != "not_evaluated"]
        failed_total = sum(row.failed for row in evaluated)
        controls.append(
            ControlPosture(
                control=control,
                title=fw.control_title(control),
                status=_status(bool(evaluated), failed_total),
                rules=[
                    RuleRef(
                        id=r.id,
                        title=r.title,
                        default_severity=r.default_severity,
                        enabled=r.enabled,
                    )
                    for r in control_rules
                ],
                passed=sum(row.passed for row in evaluated),
                failed=failed_total,
                justified=sum(row.justified for row in evaluated),
                accounts=rows,
            )
        )
    published = max((r.published_at for r in rules), default=None)
    return CompliancePosture(
        framework=fw.id,
        name=fw.name,
        generated_at=datetime.now(UTC),
        catalog_published_at=published,
        controls=controls,
    )


def _control_order(control: str) -> tuple[object, ...]:
    """`1.2.5` before `1.3.1`, `AC-4` before `AC-17`, `SC-7` before `SC-7(5)`."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.findall(r"\d+|[A-Za-z]+", control)
    )
