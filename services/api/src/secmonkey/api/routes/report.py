"""`/report`: the audit report as JSON, CSV or a page readable in a browser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from secmonkey.api.deps import Db, SettingsDep, Viewer
from secmonkey.api.http_headers import REPORT_POLICY
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries.report_stream import csv_lines, html_chunks, json_chunks, report_head
from secmonkey.api.routes._params import AccountFilter
from secmonkey.api.schemas.issues import Report
from secmonkey.common.severity import Severity

router = APIRouter(tags=["report"], responses=problem_responses(401, 403, 422))


@router.get(
    "/report",
    response_model=Report,
    summary="The audit report: open issues by severity, counts per account and rule",
    responses={
        200: {
            "content": {
                "application/json": {},
                "text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            }
        }
    },
)
async def report(
    db: Db,
    settings: SettingsDep,
    _: Viewer,
    format: Literal["json", "csv", "html"] = "json",
    account_id: AccountFilter = None,
    min_severity: Severity | None = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1, le=100_000, description="issues listed; default: a setting (JSON/HTML), all (CSV)"
        ),
    ] = None,
) -> StreamingResponse:
    if format == "csv":
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return StreamingResponse(
            csv_lines(db, account_id, min_severity, limit),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="secmonkey-report-{stamp}.csv"'},
        )
    # Streamed: counts first, then the issues a row at a time from the cursor.
    head = await report_head(db, account_id, min_severity, limit or settings.report_limit)
    if format == "html":
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
    return StreamingResponse(json_chunks(head), media_type="application/json")
