"""HTTP routes: ask for a sweep, follow it, see who schedules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from secmonkey.collector import accounts
from secmonkey.collector import status as sweep_status
from secmonkey.collector.dispatch import request_sweep
from secmonkey.collector.service import Collector
from secmonkey.common.messages import AccountId, Region


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
    if body.account_ids is None:
        account_ids = [a.id for a in await accounts.monitored_accounts(db)]
        if not account_ids:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no monitored account")
    else:
        account_ids = list(dict.fromkeys(body.account_ids))
        if not account_ids:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "account_ids is empty")
        problems = []
        for account_id in account_ids:
            account = await accounts.get_account(db, account_id)
            if account is None:
                problems.append(f"unknown account {account_id}")
            elif not accounts.is_monitored(account):
                problems.append(f"account {account_id} is disabled or not monitored")
        if problems:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "; ".join(problems))
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
