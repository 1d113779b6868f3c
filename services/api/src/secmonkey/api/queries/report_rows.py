"""The report's issues read in batches: only the fields an `IssueView` shows, validated and
serialised a batch at a time (one pydantic call per batch, not three per issue), and sent
a batch per chunk, so a report of every open issue streams at the database's pace.

Every open issue comes from the summaries (`issue_counters.read_open_rows`: one document
per account-region, each place's issues packed in report order, merged here), the same
recounts the report's counts come from; only while some summary keeps no rows (an older
shape, or a place with more than `ROWS_KEPT` open issues) from the issues themselves, in
one sorted find."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

from pydantic import TypeAdapter

from secmonkey.api.queries.report import open_issues, report_filter
from secmonkey.api.schemas.issues import IssueView
from secmonkey.common import issue_counters
from secmonkey.common.severity import SEVERITY_RANK, Severity
from secmonkey.common.storage import Database

BATCH = 500
FIELDS = {name: 1 for name in IssueView.model_fields if name != "id"}
_views = TypeAdapter(list[IssueView])


def as_views(docs: list[dict[str, Any]]) -> list[IssueView]:
    """Stored issues (`_id`, the fields an `IssueView` has and maybe more) as views."""
    return _views.validate_python([{**doc, "id": doc["_id"]} for doc in docs])


def views_json(views: list[IssueView]) -> bytes:
    """Views as JSON objects separated by commas (the list without its brackets)."""
    return _views.dump_json(views)[1:-1]


async def few_issues(docs: list[dict[str, Any]]) -> AsyncIterator[list[IssueView]]:
    """Issues already read (a dashboard's few, from the summaries), as one batch."""
    if docs:
        yield as_views(docs)


async def issue_batches(
    db: Database, account_id: str | None, min_severity: Severity | None, limit: int | None
) -> AsyncIterator[list[IssueView]]:
    """The listed issues, most severe first, a batch at a time."""
    floor = SEVERITY_RANK[min_severity.value] if min_severity is not None else -1
    places = await issue_counters.read_open_rows(db, account_id, floor)
    if places is not None:
        rows = itertools.islice(issue_counters.in_report_order(places), limit)
        while kept := list(itertools.islice(rows, BATCH)):
            yield as_views(kept)
        return
    batch: list[dict[str, Any]] = []
    query = report_filter(account_id, min_severity)
    async for doc in open_issues(db, query, limit, FIELDS).batch_size(BATCH):
        batch.append(doc)
        if len(batch) >= BATCH:
            yield as_views(batch)
            batch = []
    if batch:
        yield as_views(batch)
