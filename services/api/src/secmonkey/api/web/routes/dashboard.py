"""The dashboard: open issues by severity and account, the newest changes, sweep health."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from secmonkey.api.deps import Db
from secmonkey.api.queries.accounts import list_accounts
from secmonkey.api.queries.events import find_events
from secmonkey.api.queries.report import build_report
from secmonkey.api.queries.sweeps import sweep_health
from secmonkey.api.web.deps import ReviewReader
from secmonkey.api.web.rendering import render, root_of
from secmonkey.common.messages import EventType

router = APIRouter()
NEWEST_CHANGES = 12
CHANGE_TYPES: list[EventType] = [
    "group.created",
    "group.changed",
    "group.deleted",
    "group.restored",
]
TOP_ISSUES = 8


@router.get("/")
async def dashboard(request: Request, db: Db, caller: ReviewReader) -> Response:
    if not caller.may("viewer"):  # a reviewer's console is the review queue
        return RedirectResponse(f"{root_of(request)}/reviews", status_code=303)
    report = await build_report(db, None, None, TOP_ISSUES)
    changes = await find_events(db, types=CHANGE_TYPES, limit=NEWEST_CHANGES)
    accounts = {a.id: a.name for a in await list_accounts(db)}
    return render(
        request,
        "dashboard.html",
        caller.page(
            title="Dashboard",
            nav="dashboard",
            report=report,
            changes=changes.items,
            health=await sweep_health(db),
            accounts=accounts,
        ),
    )
