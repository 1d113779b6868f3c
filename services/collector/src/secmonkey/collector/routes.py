"""HTTP routes: ask for a sweep, follow it, see who schedules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from secmonkey.collector import metrics, sweep_status
from secmonkey.collector.service import Collector
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import AccountId, Region
from secmonkey.common.sweep_requests import request_sweep, sweepable_accounts


def get_collector(request: Request) -> Collector:
    collector: Collector | None = getattr(request.app.state, "collector", None)
    if collector is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the collector is starting")
    return collector


CollectorDep = Annotated[Collector, Depends(get_collector)]

router = APIRouter(tags=["sweeps"])


class SweepCreate(BaseModel):
    account_ids: list[AccountId] | None = Field(
        default=None, description="accounts to sweep; omitted: every monitored account"
    )
    regions: list[Region] | None = Field(
        default=None, description="regions to sweep; omitted: each account's own regions"
    )


class SweepAccepted(BaseModel):
    sweep_id: str
    account_ids: list[str]
    regions: list[str] | None
    status_url: str


@router.post("/sweeps", status_code=status.HTTP_202_ACCEPTED)
async def create_sweep(body: SweepCreate, collector: CollectorDep) -> SweepAccepted:
    """Queue a sweep at once; its progress is at `GET /sweeps/{sweep_id}`."""
    db = collector.runtime.db
    try:
        account_ids = await sweepable_accounts(db, body.account_ids)
    except InvalidInput as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    assert collector.runtime.publisher is not None
    sweep_id = await request_sweep(
        db,
        collector.runtime.publisher,
        collector.settings.sweeps_queue,
        account_ids,
        regions=body.regions,
        reason="api",
        requested_by=collector.settings.replica_id,
    )
    metrics.SWEEPS_REQUESTED.labels("api").inc(len(account_ids))
    return SweepAccepted(
        sweep_id=sweep_id,
        account_ids=account_ids,
        regions=body.regions,
        status_url=f"/sweeps/{sweep_id}",
    )


@router.get("/sweeps")
async def list_sweeps(
    collector: CollectorDep, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[dict[str, Any]]:
    """The latest sweeps requested, newest first."""
    return await sweep_status.recent_sweeps(collector.runtime.db, limit)


@router.get("/sweeps/{sweep_id}")
async def get_sweep(sweep_id: str, collector: CollectorDep) -> sweep_status.SweepStatus:
    """Per account-region status, counts, errors and duration of one sweep."""
    found = await sweep_status.sweep_status(collector.runtime.db, sweep_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no sweep {sweep_id}")
    return found


@router.get("/scheduler", tags=["operations"])
async def scheduler(collector: CollectorDep) -> dict[str, Any]:
    """Which replica holds the scheduler lease, and whether it is this one."""
    lease = await collector.scheduler.lease.current()
    return {
        "replica_id": collector.settings.replica_id,
        "scheduler_enabled": collector.settings.scheduler_enabled,
        "leader": collector.scheduler.lease.held,
        "lease": {k: v for k, v in (lease or {}).items() if k != "_id"} or None,
    }
