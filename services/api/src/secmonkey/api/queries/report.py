"""The audit report: open issues, most severe first, with counts per account and per rule.

Counts come from the auditor's per-account-region summaries (`issue_counters`), summed
when read; so do the listed issues (`report_rows`: each summary keeps its place's open
issues in report order), or from one find on the `(status, severity_rank)` index while a
summary of an older shape has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from secmonkey.api.queries.exposure import exposure_query, find_exposure
from secmonkey.api.schemas.issues import CountRow, IssueView, Report
from secmonkey.common import issue_counters
from secmonkey.common.documents import Issue
from secmonkey.common.severity import SEVERITY_RANK, Severity
from secmonkey.common.storage import Database, filters

EXPOSURE_SHOWN = 200
SEVERITIES = [s.value for s in sorted(Severity, key=lambda s: -s.rank)]


def report_filter(account_id: str | None, min_severity: Severity | None) -> dict[str, Any]:
    query: dict[str, Any] = {"status": "open"}
    if min_severity is not None:
        query["severity_rank"] = {"$gte": SEVERITY_RANK[min_severity.value]}
    return query | filters.equals(account_id=account_id or None)


@dataclass
class Counts:
    """A report's counts, and its first issues when few are listed, from the summaries."""

    by_account: list[CountRow]
    by_rule: list[CountRow]
    top: list[dict[str, Any]] | None  # the listed issues when `limit` <= TOP, else None

    @property
    def total(self) -> int:
        return sum(r.total for r in self.by_account)

    @property
    def by_severity(self) -> dict[str, int]:
        return {s: sum(getattr(r, s) for r in self.by_account) for s in SEVERITIES}


async def report_counts(
    db: Database, account_id: str | None, min_severity: Severity | None, limit: int | None
) -> Counts:
    """Open issues per account and per rule, by severity: the auditor's summaries (one
    document per account-region, `issue_counters`) summed, never a scan of the issues;
    up to `TOP` listed issues (a dashboard's) from the most severe each summary keeps."""
    floor = SEVERITY_RANK[min_severity.value] if min_severity is not None else -1
    summaries = await issue_counters.read_summaries(db, account_id)
    tables: tuple[dict[str, CountRow], dict[str, CountRow]] = ({}, {})
    for account, rule_id, severity, n in issue_counters.summary_rows(summaries):
        if SEVERITY_RANK.get(severity, -1) < floor:
            continue
        for table, name in zip(tables, (account, rule_id), strict=True):
            row = table.setdefault(name, CountRow(name=name))
            if severity in SEVERITIES:
                setattr(row, severity, getattr(row, severity) + n)
            row.total += n
    by_account, by_rule = (
        sorted(t.values(), key=lambda r: (-r.critical, -r.high, -r.total, r.name)) for t in tables
    )
    few = limit is not None and limit <= issue_counters.TOP
    top = issue_counters.summary_top(summaries, floor, limit) if few and limit else None
    return Counts(by_account, by_rule, top)


def open_issues(
    db: Database, query: dict[str, Any], limit: int | None, fields: dict[str, int] | None = None
) -> Any:
    cursor = db.issues.find(query, fields).sort([("severity_rank", -1), ("_id", 1)])
    return cursor.limit(limit) if limit else cursor


async def build_report(
    db: Database, account_id: str | None, min_severity: Severity | None, limit: int
) -> Report:
    query = report_filter(account_id, min_severity)
    counts = await report_counts(db, account_id, min_severity, limit)
    docs = counts.top if counts.top is not None else await open_issues(db, query, limit).to_list()
    issues = [IssueView.of(Issue.model_validate(doc)) for doc in docs]
    exposure_filter = exposure_query(account_id=account_id)
    exposed = await db.exposures.count_documents(exposure_filter)
    shown = await find_exposure(db, account_id=account_id, limit=min(limit, EXPOSURE_SHOWN))
    return Report(
        exposed_endpoints=exposed,
        exposure=shown.items,
        generated_at=datetime.now(UTC),
        open_issues=counts.total,
        by_severity=counts.by_severity,
        by_account=counts.by_account,
        by_rule=counts.by_rule,
        issues=issues,
        truncated=counts.total > len(issues),
    )
