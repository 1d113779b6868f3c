"""Sweeps: asking the collectors for one now, and each account-region's latest sweep.

The collector records one `sweeps` document per account-region sweep (`kind: region`,
with `status` running/complete/incomplete, `error`, `groups`, `started_at`). Two reads on
the `started_at` index (the latest region documents, and the latest complete ones) are
folded here; FerretDB has no `$group` accumulator that would pick the newest per pair.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from secmonkey.api.auth import Principal
from secmonkey.api.schemas.admin import SweepIn, SweepQueued, SweepsQueued
from secmonkey.common import sweep_requests
from secmonkey.common.outbox import Outbox
from secmonkey.common.storage import Database, filters

log = logging.getLogger(__name__)

RECENT = 1000
_PROJECTION = {
    "_id": 0,
    "account_id": 1,
    "region": 1,
    "status": 1,
    "error": 1,
    "error_code": 1,
    "groups": 1,
    "started_at": 1,
    "finished_at": 1,
}


async def request_sweeps(
    db: Database, outbox: Outbox, queue: str, who: Principal, body: SweepIn
) -> SweepsQueued:
    """One sweep of the account (or of every monitored one), a request per account on `queue`
    through the outbox: `pending` when RabbitMQ did not take them now (they are sent once it
    is reachable)."""
    account_ids = await sweep_requests.sweepable_accounts(db, body.wanted())
    sweep_id, published = await sweep_requests.request_sweep(
        db,
        outbox,
        queue,
        account_ids,
        regions=body.regions,
        reason=f"api:{who.name}",
        requested_by=who.name,
    )
    if not published:
        log.warning("sweep %s waits in the outbox until RabbitMQ takes it", sweep_id)
    return SweepsQueued(
        sweeps=[
            SweepQueued(sweep_id=sweep_id, account_id=a, regions=body.regions) for a in account_ids
        ],
        pending=not published,
    )


@dataclass(frozen=True)
class RegionHealth:
    account_id: str
    region: str
    status: str
    started_at: datetime | None
    error: str | None
    groups: int
    last_complete_at: datetime | None

    @property
    def failing(self) -> bool:
        """The latest sweep did not read everything (or no sweep ever completed)."""
        return self.status == "incomplete" or (
            self.status != "running" and self.last_complete_at is None
        )


async def sweep_health(db: Database, account_id: str | None = None) -> list[RegionHealth]:
    """One row per account and region the collectors have swept, failures first."""
    query: dict[str, Any] = filters.equals(kind="region", account_id=account_id or None)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    cursor = db.sweeps.find(query, _PROJECTION).sort("started_at", -1).limit(RECENT)
    async for doc in cursor:
        pair = (str(doc.get("account_id", "")), str(doc.get("region", "")))
        latest.setdefault(pair, doc)
    complete: dict[tuple[str, str], datetime] = {}
    cursor = (
        db.sweeps.find({**query, "status": "complete"}, _PROJECTION)
        .sort("started_at", -1)
        .limit(RECENT)
    )
    async for doc in cursor:
        pair = (str(doc.get("account_id", "")), str(doc.get("region", "")))
        if pair not in complete and doc.get("started_at") is not None:
            complete[pair] = doc["started_at"]
    rows = [
        RegionHealth(
            account_id=pair[0],
            region=pair[1],
            status=str(doc.get("status", "unknown")),
            started_at=doc.get("started_at"),
            error=doc.get("error"),
            groups=int(doc.get("groups") or 0),
            last_complete_at=complete.get(pair),
        )
        for pair, doc in latest.items()
    ]
    rows.sort(key=lambda r: (not r.failing, r.account_id, r.region))
    return rows
