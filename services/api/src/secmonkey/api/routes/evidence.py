"""`/evidence`: the evidence package of a compliance scope and period (a zip), for auditors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from secmonkey.api.audit import actions
from secmonkey.api.audit.deps import AuditorTrail
from secmonkey.api.deps import SettingsDep
from secmonkey.api.problems import problem_responses
from secmonkey.common.compliance_scopes import SCOPE_NAME_PATTERN

router = APIRouter(tags=["change control"], responses=problem_responses(401, 403, 404, 422))
ZIP = "application/zip"


@router.get(
    "/evidence",
    summary="The evidence package of a scope and period: a zip (HTML, PDF, CSV, JSON, "
    "chain.json and a manifest of SHA-256s with the chain verification), audited",
    response_class=StreamingResponse,
    responses={200: {"content": {ZIP: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def evidence(
    trail: AuditorTrail,
    settings: SettingsDep,
    scope: Annotated[str, Query(pattern=SCOPE_NAME_PATTERN, description="e.g. pci")],
    start: Annotated[
        datetime | None, Query(alias="from", description="default: 90 days before `to`")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="default: now")] = None,
) -> StreamingResponse:
    built = await actions.download_evidence(trail, settings, scope, start, end)
    # Spooled on disk, sent in blocks, removed when sent (or when the client went away).
    return StreamingResponse(
        built.chunks(),
        media_type=ZIP,
        headers={
            "Content-Disposition": f'attachment; filename="{built.name}"',
            "Content-Length": str(built.size),
            "X-Content-SHA256": built.sha256,
        },
        background=BackgroundTask(built.discard),
    )
