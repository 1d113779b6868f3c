"""`/audit-log`: who changed what, when and from where (admin), as pages or CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from secmonkey.api.audit.entries import AuditPage, audit_filter, csv_lines, find_entries
from secmonkey.api.deps import Admin, Db
from secmonkey.api.problems import problem_responses
from secmonkey.api.routes._params import Cursor, Limit

router = APIRouter(
    prefix="/audit-log", tags=["audit log"], responses=problem_responses(401, 403, 422)
)
ACTION_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"


@router.get(
    "",
    response_model=AuditPage,
    summary="The audit log, newest first (admin)",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def audit_log(
    db: Db,
    _: Admin,
    action: Annotated[
        str | None, Query(pattern=ACTION_PATTERN, max_length=100, description="e.g. key.created")
    ] = None,
    actor: Annotated[
        str | None, Query(max_length=200, description="a key id, or an SSO user's id")
    ] = None,
    target: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[datetime | None, Query(description="only entries after this")] = None,
    until: Annotated[datetime | None, Query(description="only entries at or before this")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    format: Literal["json", "csv"] = "json",
) -> AuditPage | StreamingResponse:
    query = audit_filter(action=action, actor=actor, target=target, since=since, until=until)
    if format == "csv":
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return StreamingResponse(
            csv_lines(db, query),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="secmonkey-audit-{stamp}.csv"'},
        )
    return await find_entries(db, query, limit=limit, cursor=cursor)
