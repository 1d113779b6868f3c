"""`/chain`: verify the hash chains, export them as a chain package, anchor them now."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from secmonkey.api.deps import Admin, Auditor, Db, OutboxDep, SettingsDep, Viewer
from secmonkey.api.problems import Problem, problem_responses
from secmonkey.api.queries import chain
from secmonkey.api.schemas.change_control import AnchorView, VerificationView
from secmonkey.common.dates import aware

router = APIRouter(
    prefix="/chain", tags=["change control"], responses=problem_responses(401, 403, 422)
)


@router.get("/verify", response_model=VerificationView, summary="Recompute every chain")
async def verify(
    db: Db,
    _: Auditor,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
) -> VerificationView:
    return await chain.verify(db, aware(start) if start else None, aware(end) if end else None)


@router.get("/export", summary="The chain package (JSON), for `secmonkey verify --package`")
async def export(db: Db, _: Auditor) -> dict[str, Any]:
    return await chain.export(db)


@router.post("/anchors", response_model=AnchorView, status_code=201, summary="Anchor now")
async def anchor(db: Db, outbox: OutboxDep, settings: SettingsDep, _: Admin) -> AnchorView:
    return await chain.anchor_now(db, outbox, settings)


@router.get(
    "/anchors/latest",
    response_model=AnchorView,
    summary="The newest anchor",
    responses=problem_responses(404),
)
async def latest(db: Db, _: Viewer) -> AnchorView:
    found = await chain.latest(db)
    if found is None:
        raise Problem(404, "no anchor yet", kind="not-found")
    return found
