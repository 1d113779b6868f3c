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


async def _docs(db: Database, query: dict[str, Any], limit: int | None) -> AsyncIterator[list[Any]]:
    batch: list[Any] = []
    async for doc in open_issues(db, query, limit, FIELDS).batch_size(BATCH):
        doc["id"] = doc.pop("_id")
        batch.append(doc)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def issue_batches(
    db: Database, query: dict[str, Any], limit: int | None
) -> AsyncIterator[list[IssueView]]:
    """The listed issues, most severe first, a batch at a time."""
    async for docs in _docs(db, query, limit):
        yield _views.validate_python(docs)


async def issues_json(
    db: Database, query: dict[str, Any], limit: int | None
) -> AsyncIterator[bytes]:
    """The listed issues as JSON, a batch per chunk: `{…},{…}` (without the brackets)."""
    async for docs in _docs(db, query, limit):
        yield _views.dump_json(_views.validate_python(docs))[1:-1]
