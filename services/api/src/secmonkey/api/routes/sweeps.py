"""`/sweeps`: ask the collectors to sweep now (admin)."""

from __future__ import annotations

from fastapi import APIRouter

from secmonkey.api.deps import Admin, Db, OutboxDep, SettingsDep
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries.sweeps import request_sweeps
from secmonkey.api.schemas.admin import SweepIn, SweepsQueued

router = APIRouter(prefix="/sweeps", tags=["sweeps"], responses=problem_responses(401, 403, 422))


@router.post(
    "",
    response_model=SweepsQueued,
    status_code=202,
    summary="Sweep one account (or every monitored one) now",
    responses=problem_responses(503),
)
async def request_sweep(
    db: Db, outbox: OutboxDep, settings: SettingsDep, who: Admin, body: SweepIn
) -> SweepsQueued:
    return await request_sweeps(db, outbox, settings.sweeps_queue, who, body)
