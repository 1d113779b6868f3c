"""The report's issues read in batches: only the fields an `IssueView` shows, validated and
serialised a batch at a time (one pydantic call per batch, not three per issue), and sent
a batch per chunk, so a report of every open issue streams at the database's pace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pydantic import TypeAdapter

from secmonkey.api.queries.report import open_issues
from secmonkey.api.schemas.issues import IssueView
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
    db: Database, query: dict[str, Any], limit: int | None
) -> AsyncIterator[list[IssueView]]:
    """The listed issues, most severe first, a batch at a time."""
    batch: list[dict[str, Any]] = []
    async for doc in open_issues(db, query, limit, FIELDS).batch_size(BATCH):
        batch.append(doc)
        if len(batch) >= BATCH:
            yield as_views(batch)
            batch = []
    if batch:
        yield as_views(batch)
