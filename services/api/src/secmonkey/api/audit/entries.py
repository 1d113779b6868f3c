"""Reading the audit log back: pages newest first, filtered; CSV streamed a row at a time."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from secmonkey.api.audit.trail import AuditEntry
from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.common.dates import aware
from secmonkey.common.errors import InvalidInput
from secmonkey.common.storage import Database
from secmonkey.common.storage import filters as f

CSV_COLUMNS = [
    "at",
    "action",
    "target",
    "actor_kind",
    "actor_id",
    "actor_name",
    "actor_role",
    "client",
    "via",
    "severity",
    "detail",
    "before",
    "after",
    "id",
]
CSV_BATCH = 200


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None = None


class _Cursor(BaseModel):
    a: datetime
    i: str


def audit_filter(
    *,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    query: dict[str, Any] = f.equals(action=action, target=target)
    if actor is not None:
        query |= f.equals(**{"actor.id": actor})
    bounds: dict[str, datetime] = {}
    if since is not None:
        bounds["$gt"] = aware(since)
    if until is not None:
        bounds["$lte"] = aware(until)
    if since is not None and until is not None and aware(since) > aware(until):
        raise InvalidInput("since is after until")
    if bounds:
        query["at"] = bounds
    return query


async def find_entries(
    db: Database, query: dict[str, Any], *, limit: int = 100, cursor: str | None = None
) -> AuditPage:
    """One page of entries matching `query`, newest first."""
    position = decode_cursor(cursor, _Cursor)
    if position is not None:
        query = {
            **query,
            "$or": [
                {"at": {"$lt": aware(position.a)}},
                {"at": aware(position.a), "_id": {"$lt": position.i}},
            ],
        }
    docs = await db.audit_log.find(query).sort([("at", -1), ("_id", -1)]).limit(limit).to_list()
    items = [AuditEntry.model_validate(d) for d in docs]
    next_cursor = None
    if len(items) == limit:
        next_cursor = encode_cursor(_Cursor(a=items[-1].at, i=items[-1].id))
    return AuditPage(items=items, next_cursor=next_cursor)


def _cell(text: str) -> str:
    """Keep spreadsheet programs from evaluating a cell (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _row(e: AuditEntry) -> list[str]:
    return [
        e.at.isoformat(),
        e.action,
        _cell(e.target),
        e.actor.kind,
        _cell(e.actor.id),
        _cell(e.actor.name),
        e.actor.role or "",
        e.client or "",
        e.via,
        e.severity.value,
        _cell(e.detail),
        _cell(json.dumps(e.before, default=str)) if e.before is not None else "",
        _cell(json.dumps(e.after, default=str)) if e.after is not None else "",
        e.id,
    ]


async def csv_lines(db: Database, query: dict[str, Any]) -> AsyncIterator[str]:
    """Every matching entry as CSV, newest first, read a page at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    cursor: str | None = None
    while True:
        page = await find_entries(db, dict(query), limit=CSV_BATCH, cursor=cursor)
        for entry in page.items:
            writer.writerow(_row(entry))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
