"""`/export/ocsf`: every finding as OCSF 1.5 (Detection or Compliance Finding), NDJSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from secmonkey.api.deps import Db, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries.export import ocsf_lines
from secmonkey.api.queries.issues import IssueStatusFilter
from secmonkey.api.queries.ocsf import FindingClass
from secmonkey.api.routes._params import AccountFilter
from secmonkey.common.severity import Severity

router = APIRouter(prefix="/export", tags=["export"], responses=problem_responses(401, 403, 422))
NDJSON = "application/x-ndjson"


@router.get(
    "/ocsf",
    summary="Every finding as OCSF 1.5, one JSON object per line (streamed)",
    response_class=StreamingResponse,
    responses={200: {"content": {NDJSON: {"schema": {"type": "string"}}}}},
)
async def export_ocsf(
    db: Db,
    _: Viewer,
    finding_class: Annotated[
        FindingClass,
        Query(alias="class", description="detection (class 2004) or compliance (class 2003)"),
    ] = "detection",
    status: IssueStatusFilter = "all",
    account_id: AccountFilter = None,
    compliance: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="a compliance framework, e.g. pci"),
    ] = None,
    min_severity: Severity | None = None,
) -> StreamingResponse:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = ocsf_lines(
        db,
        finding_class,
        status=status,
        account_id=account_id,
        compliance=compliance,
        min_severity=min_severity,
    )
    return StreamingResponse(
        lines,
        media_type=NDJSON,
        headers={"Content-Disposition": f'attachment; filename="secmonkey-ocsf-{stamp}.ndjson"'},
    )
