"""The audit report streamed: counts first (the auditor's summaries), then the issues a
batch at a time from the database cursor, so `report?limit=100000` never holds the whole list.

The JSON stream is the `Report` document (same fields, same order of meaning); the HTML
stream is the same template rendered asynchronously over the cursor.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from secmonkey.api.queries.exposure import exposure_query, find_exposure
from secmonkey.api.queries.report import (
    EXPOSURE_SHOWN,
    SEVERITIES,
    report_counts,
)
from secmonkey.api.queries.report_rows import few_issues, issue_batches, row_batches
from secmonkey.api.schemas.issues import CountRow, IssueView
from secmonkey.common.issue_views import rows_json, rows_views
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Database

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parents[1] / "templates"),
    autoescape=select_autoescape(["html"]),
    enable_async=True,
)


@dataclass
class ReportHead:
    """What the report says before its list of issues."""

    generated_at: datetime
    open_issues: int
    by_severity: dict[str, int]
    by_account: list[CountRow]
    by_rule: list[CountRow]
    truncated: bool
    listed: int
    issues: AsyncIterator[IssueView]
    issues_json: AsyncIterator[bytes]
    exposed_endpoints: int
    exposure: list[Any]


async def report_head(
    db: Database, account_id: str | None, min_severity: Severity | None, limit: int
) -> ReportHead:
    counts = await report_counts(db, account_id, min_severity, limit)
    exposed = await db.exposures.count_documents(exposure_query(account_id=account_id))
    shown = await find_exposure(db, account_id=account_id, limit=min(limit, EXPOSURE_SHOWN))
    batches = (
        few_issues(counts.top)
        if counts.top is not None
        else row_batches(db, account_id, min_severity, limit)
    )

    async def issues() -> AsyncIterator[IssueView]:
        async for batch in batches:
            for issue in rows_views(batch):
                yield issue

    async def issues_json() -> AsyncIterator[bytes]:
        async for batch in batches:
            yield rows_json(batch)

    return ReportHead(
        generated_at=datetime.now(UTC),
        open_issues=counts.total,
        by_severity=counts.by_severity,
        by_account=counts.by_account,
        by_rule=counts.by_rule,
        truncated=counts.total > limit,
        listed=min(counts.total, limit),
        issues=issues(),
        issues_json=issues_json(),
        exposed_endpoints=exposed,
        exposure=list(shown.items),
    )


async def json_chunks(head: ReportHead) -> AsyncIterator[str]:
    """`Report` as JSON, an issue per chunk."""
    fields = {
        "generated_at": head.generated_at.isoformat().replace("+00:00", "Z"),
        "open_issues": head.open_issues,
        "by_severity": head.by_severity,
        "by_account": [r.model_dump(mode="json") for r in head.by_account],
        "by_rule": [r.model_dump(mode="json") for r in head.by_rule],
        "truncated": head.truncated,
        "exposed_endpoints": head.exposed_endpoints,
        "exposure": [e.model_dump(mode="json") for e in head.exposure],
    }
    yield json.dumps(fields)[:-1] + ', "issues": ['
    separator = ""
    async for chunk in head.issues_json:
        yield separator + chunk.decode()
        separator = ","
    yield "]}"


async def html_chunks(head: ReportHead, filters: dict[str, str]) -> AsyncIterator[str]:
    """The HTML report, rendered as the issues arrive."""
    template = _templates.get_template("report.html")
    async for chunk in template.generate_async(
        report=head, severities=SEVERITIES, filters=filters, listed=head.listed
    ):
        yield chunk


CSV_COLUMNS = [
    "severity",
    "rule_id",
    "account_id",
    "region",
    "vpc_id",
    "group_id",
    "group_name",
    "rule_text",
    "message",
    "compliance",
    "status",
    "opened_at",
    "issue_id",
]


async def csv_lines(
    db: Database, account_id: str | None, min_severity: Severity | None, limit: int | None
) -> AsyncIterator[str]:
    """The report's issues as CSV, streamed a batch at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    async for batch in issue_batches(db, account_id, min_severity, limit):
        for issue in batch:
            writer.writerow(
                [
                    issue.severity.value,
                    issue.rule_id,
                    issue.account_id,
                    issue.region,
                    issue.vpc_id or "",
                    issue.group_id,
                    _safe_cell(issue.group_name),
                    _safe_cell(issue.rule_text),
                    _safe_cell(issue.message),
                    " ".join(issue.compliance),
                    issue.status,
                    issue.opened_at.isoformat(),
                    issue.id,
                ]
            )
        yield flush()


def _safe_cell(text: str) -> str:
    """Keep spreadsheet programs from evaluating a cell (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
