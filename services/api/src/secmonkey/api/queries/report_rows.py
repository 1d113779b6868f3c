"""The report's issues read in batches, sent a batch per chunk, so a report of every open
issue streams at the database's pace.

Every open issue comes from the summaries (`issue_counters.read_open_rows`: one document
per account-region, each place's issues as report rows in report order, merged here),
the same recounts the report's counts come from. A row holds the issue's `IssueView`
JSON (`secmonkey.common.issue_views`): the JSON report joins it as it is; the HTML and CSV
reports validate a batch of it into views. Only while some summary keeps no rows (an
older shape, or a place with more than `ROWS_KEPT` open issues) do the issues come from
themselves, in one sorted find, made into rows here."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

from secmonkey.api.queries.report import open_issues, report_filter
from secmonkey.common import issue_counters
from secmonkey.common.issue_views import IssueView, Row, rows_of, rows_views
from secmonkey.common.severity import SEVERITY_RANK, Severity
from secmonkey.common.storage import Database

BATCH = 500
FIELDS = {name: 1 for name in IssueView.model_fields if name != "id"} | {"severity_rank": 1}


async def few_issues(docs: list[dict[str, Any]]) -> AsyncIterator[list[Row]]:
    """Issues already read (a dashboard's few, from the summaries), as one batch."""
    if docs:
        yield rows_of(docs)


async def row_batches(
    db: Database, account_id: str | None, min_severity: Severity | None, limit: int | None
) -> AsyncIterator[list[Row]]:
    """The listed issues as report rows, most severe first, a batch at a time."""
    floor = SEVERITY_RANK[min_severity.value] if min_severity is not None else -1
    places = await issue_counters.read_open_rows(db, account_id, floor)
    if places is not None:
        rows = itertools.islice(issue_counters.in_report_order(places), limit)
        while kept := list(itertools.islice(rows, BATCH)):
            yield kept
        return
    batch: list[dict[str, Any]] = []
    query = report_filter(account_id, min_severity)
    async for doc in open_issues(db, query, limit, FIELDS).batch_size(BATCH):
        batch.append(doc)
        if len(batch) >= BATCH:
            yield rows_of(batch)
            batch = []
    if batch:
        yield rows_of(batch)


async def issue_batches(
    db: Database, account_id: str | None, min_severity: Severity | None, limit: int | None
) -> AsyncIterator[list[IssueView]]:
    """The listed issues as views, most severe first, a batch at a time."""
    async for batch in row_batches(db, account_id, min_severity, limit):
        yield rows_views(batch)
