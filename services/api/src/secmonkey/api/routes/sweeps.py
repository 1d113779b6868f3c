"""`/sweeps`: ask the collectors to sweep now (admin)."""

from __future__ import annotations

from fastapi import APIRouter

from secmonkey.api.audit import actions
from secmonkey.api.audit.deps import AdminTrail
from secmonkey.api.deps import SettingsDep
from secmonkey.api.problems import problem_responses
from secmonkey.api.schemas.admin import SweepIn, SweepsQueued

router = APIRouter(prefix="/sweeps", tags=["sweeps"], responses=problem_responses(401, 403, 422))


@router.post(
    "",
    response_model=SweepsQueued,
    status_code=202,
    summary="Sweep one account (or every monitored one) now",
    responses=problem_responses(503),
)
async def request_sweep(trail: AdminTrail, settings: SettingsDep, body: SweepIn) -> SweepsQueued:
    assert trail.principal is not None
    return await actions.request_sweep(trail, settings.sweeps_queue, trail.principal, body)
