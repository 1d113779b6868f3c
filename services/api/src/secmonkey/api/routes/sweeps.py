"""`/sweeps`: ask the collectors to sweep now, and follow a sweep (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from secmonkey.api.audit import actions
from secmonkey.api.audit.deps import AdminTrail
from secmonkey.api.deps import Admin, Db, SettingsDep
from secmonkey.api.problems import problem_responses
from secmonkey.api.schemas.admin import SweepIn, SweepsQueued
from secmonkey.common import sweep_status
from secmonkey.common.errors import NotFound

SweepId = Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,64}$")]

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


@router.get(
    "",
    summary="The latest sweeps asked for, newest first",
    response_model=list[dict[str, Any]],
)
async def list_sweeps(
    db: Db, _: Admin, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[dict[str, Any]]:
    return await sweep_status.recent_sweeps(db, limit)


@router.get(
    "/{sweep_id}",
    response_model=sweep_status.SweepStatus,
    summary="One sweep: status per account and region, counts, errors, durations",
    responses=problem_responses(404),
)
async def get_sweep(db: Db, _: Admin, sweep_id: SweepId) -> sweep_status.SweepStatus:
    # Admin only: AWS error texts name role ARNs.
    found = await sweep_status.sweep_status(db, sweep_id)
    if found is None:
        raise NotFound(f"no sweep {sweep_id}")
    return found
