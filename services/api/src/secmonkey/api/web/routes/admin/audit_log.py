"""Admin · audit log: who changed what, when and from where; filters and a CSV export."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from secmonkey.api.audit.entries import audit_filter, csv_lines, find_entries
from secmonkey.api.web.deps import OptCursor, OptText
from secmonkey.api.web.rendering import query, render
from secmonkey.api.web.routes.admin._page import AdminGet
from secmonkey.common.errors import InvalidInput

router = APIRouter()
PAGE_SIZE = 50
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def _filters(action: str | None, actor: str | None, target: str | None) -> dict[str, str | None]:
    if action is not None and not _ACTION.match(action):
        raise InvalidInput(f"action: expected a name such as key.created, got {action[:80]!r}")
    return {"action": action, "actor": actor, "target": target}


@router.get("/audit-log")
async def audit_page(
    visit: AdminGet,
    action: OptText = None,
    actor: OptText = None,
    target: OptText = None,
    cursor: OptCursor = None,
) -> Response:
    filters = _filters(action, actor, target)
    page = await find_entries(
        visit.db,
        audit_filter(action=action, actor=actor, target=target),
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    context = visit.caller.page(
        title="Audit log",
        nav="admin",
        section="audit-log",
        entries=page.items,
        next_cursor=page.next_cursor,
        filters=filters,
        export=query(filters),
        more=query(filters, cursor=page.next_cursor),
    )
    return render(visit.request, "admin/audit_log.html", context)


@router.get("/audit-log.csv")
async def audit_csv(
    visit: AdminGet, action: OptText = None, actor: OptText = None, target: OptText = None
) -> Response:
    _filters(action, actor, target)  # 422 on a malformed action
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        csv_lines(visit.db, audit_filter(action=action, actor=actor, target=target)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="secmonkey-audit-{stamp}.csv"'},
    )
