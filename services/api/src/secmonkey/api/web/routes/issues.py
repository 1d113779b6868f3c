"""Issues: filter and sort, justify (auditor) or withdraw a justification, CSV, the HTML report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import ValidationError

from secmonkey.api.audit import actions
from secmonkey.api.audit.deps import console_trail
from secmonkey.api.deps import Db, OutboxDep, SettingsDep
from secmonkey.api.http_headers import REPORT_POLICY
from secmonkey.api.queries.accounts import list_accounts
from secmonkey.api.queries.issues import find_issues
from secmonkey.api.queries.report_stream import csv_lines, html_chunks, report_head
from secmonkey.api.schemas.issues import ISSUE_ID_PATTERN, JustificationIn
from secmonkey.api.web.deps import (
    AuditorForm,
    Blank,
    OptAccount,
    OptCursor,
    OptGroupId,
    OptRegion,
    OptRule,
    OptSeverity,
    Viewer,
    at_most,
)
from secmonkey.api.web.rendering import render, root_of
from secmonkey.api.web.routes.signin import safe_next
from secmonkey.common.dates import aware
from secmonkey.common.errors import InvalidInput

router = APIRouter()
PAGE = 100
IssueId = Annotated[str, Path(pattern=ISSUE_ID_PATTERN)]
Sort = Literal["severity", "opened", "group", "account", "rule"]
_SORTS: dict[str, Any] = {
    "opened": lambda i: (i.opened_at, i.id),
    "group": lambda i: (i.group_name.lower(), i.group_id, -i.severity.rank),
    "account": lambda i: (i.account_id, i.region, -i.severity.rank),
    "rule": lambda i: (i.rule_id, -i.severity.rank),
}


@router.get("/issues")
async def list_issues(
    request: Request,
    db: Db,
    caller: Viewer,
    status: Annotated[
        Literal["open", "justified", "fixed", "deleted", "all"] | None, Blank, Query()
    ] = None,
    severity: OptSeverity = None,
    min_severity: OptSeverity = None,
    rule_id: OptRule = None,
    account_id: OptAccount = None,
    region: OptRegion = None,
    group_id: OptGroupId = None,
    compliance: Annotated[str | None, Blank, at_most(64), Query()] = None,
    sort: Annotated[Sort | None, Blank, Query()] = None,
    cursor: OptCursor = None,
) -> Response:
    filters: dict[str, Any] = {
        "status": status,
        "severity": severity.value if severity else None,
        "min_severity": min_severity.value if min_severity else None,
        "rule_id": rule_id,
        "account_id": account_id,
        "region": region,
        "group_id": group_id,
        "compliance": compliance,
        "sort": sort,
    }
    page = await find_issues(
        db,
        status=status or "open",
        severity=severity,
        min_severity=min_severity,
        rule_id=rule_id,
        account_id=account_id,
        region=region,
        group_id=group_id,
        compliance=compliance,
        limit=PAGE,
        cursor=cursor,
    )
    issues = page.items
    if sort in _SORTS:
        issues = sorted(issues, key=_SORTS[sort])
    return render(
        request,
        "issues.html",
        caller.page(
            title="Issues",
            nav="issues",
            filters=filters,
            issues=issues,
            next_cursor=page.next_cursor,
            cursor=cursor,
            accounts=await list_accounts(db),
        ),
    )


def _until(value: str) -> datetime | None:
    """A `datetime-local` value (read as UTC) or an ISO 8601 instant; empty: no expiry."""
    text = value.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"until: {text!r} is not a date and time") from None
    return aware(parsed)


@router.post("/issues/{issue_id}/justify")
async def justify(
    request: Request,
    db: Db,
    outbox: OutboxDep,
    caller: AuditorForm,
    issue_id: IssueId,
    reason: Annotated[str, Form(max_length=2000)] = "",
    until: Annotated[str, Form(max_length=64)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/issues",
) -> Response:
    try:
        body = JustificationIn(reason=reason, until=_until(until))
    except ValidationError as exc:
        message = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise InvalidInput(f"reason: {message}") from None
    trail = console_trail(request, db, caller.principal)
    issue = await actions.justify(trail, caller.principal, issue_id, body)
    return _after_change(request, caller.page(issue=issue), back)


@router.post("/issues/{issue_id}/reopen")
async def reopen(
    request: Request,
    db: Db,
    caller: AuditorForm,
    issue_id: IssueId,
    back: Annotated[str, Form(max_length=2000)] = "/issues",
) -> Response:
    await actions.withdraw(console_trail(request, db, caller.principal), issue_id)
    return _after_change(request, caller.page(issue=None, reopened=issue_id), back)


def _after_change(request: Request, context: dict[str, Any], back: str) -> Response:
    """htmx replaces the issue's row with a notice; a plain form post goes back to the list."""
    if request.headers.get("HX-Request") == "true":
        return render(request, "_issue_done.html", context)
    return RedirectResponse(root_of(request) + safe_next(back), status_code=303)


@router.get("/issues.csv")
async def export_csv(
    db: Db,
    _: Viewer,
    account_id: OptAccount = None,
    min_severity: OptSeverity = None,
) -> StreamingResponse:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        csv_lines(db, account_id, min_severity, None),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="secmonkey-issues-{stamp}.csv"'},
    )


@router.get("/report")
async def report(
    db: Db,
    settings: SettingsDep,
    _: Viewer,
    account_id: OptAccount = None,
    min_severity: OptSeverity = None,
) -> StreamingResponse:
    head = await report_head(db, account_id, min_severity, settings.report_limit)
    filters = {
        k: v
        for k, v in (
            ("account", account_id),
            ("minimum severity", min_severity.value if min_severity else None),
        )
        if v
    }
    return StreamingResponse(
        html_chunks(head, filters),
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": REPORT_POLICY},
    )
