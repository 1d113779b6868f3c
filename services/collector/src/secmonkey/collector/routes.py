"""HTTP routes of the collector's probes-and-metrics port: who schedules.

Sweeps are asked for through the API (`POST /api/v1/sweeps`, an admin key) and followed
there (`GET /api/v1/sweeps/{id}`); this port has no key and serves operations only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status

from secmonkey.collector.service import Collector


def get_collector(request: Request) -> Collector:
    collector: Collector | None = getattr(request.app.state, "collector", None)
    if collector is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the collector is starting")
    return collector


CollectorDep = Annotated[Collector, Depends(get_collector)]

router = APIRouter(tags=["operations"])


@router.get("/scheduler")
async def scheduler(collector: CollectorDep) -> dict[str, Any]:
    """Which replica holds the scheduler lease, and whether it is this one."""
    lease = await collector.scheduler.lease.current()
    return {
        "replica_id": collector.settings.replica_id,
        "scheduler_enabled": collector.settings.scheduler_enabled,
        "leader": collector.scheduler.lease.held,
        "lease": {k: v for k, v in (lease or {}).items() if k != "_id"} or None,
    }
