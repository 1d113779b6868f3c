"""Reading a sweep's status from the `sweeps` collection (written by the collector, read
by the API's `GET /api/v1/sweeps/{id}` and by the collector's watchdog).

One document per sweep (what was asked), one per account (which regions it planned, or why
it failed before reaching any), one per account-region (outcome, counts, error, duration).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from secmonkey.common import storage
from secmonkey.common.storage import Database

SweepState = Literal["pending", "running", "complete", "incomplete", "failed"]


class RegionStatus(BaseModel):
    region: str
    status: Literal["running", "complete", "incomplete"]
    groups: int = 0
    batches: int = 0
    error: str | None = None
    error_code: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    collector: str | None = None


class AccountStatus(BaseModel):
    account_id: str
    status: SweepState
    regions: list[RegionStatus] = Field(default_factory=list)
    error: str | None = None
    error_code: str | None = None
    collector: str | None = None


class SweepStatus(BaseModel):
    sweep_id: str
    status: SweepState
    reason: str
    requested_at: datetime
    requested_by: str | None = None
    regions_requested: list[str] | None = None
    accounts: list[AccountStatus]
    groups: int
    regions_complete: int
    regions_incomplete: int
    duration_seconds: float | None = Field(
        default=None, description="from the request to the last region's end, once finished"
    )


def _account_status(
    account_id: str, account_doc: dict[str, Any] | None, region_docs: list[dict[str, Any]]
) -> AccountStatus:
    regions = [
        RegionStatus.model_validate(d) for d in sorted(region_docs, key=lambda d: d["region"])
    ]
    if account_doc is None:
        state: SweepState = "running" if regions else "pending"
        return AccountStatus(account_id=account_id, status=state, regions=regions)
    planned = set(account_doc.get("regions") or [])
    finished = {r.region for r in regions if r.status != "running"}
    if account_doc.get("status") == "failed":
        state = "failed"
    elif account_doc.get("status") != "done" or not planned <= finished:
        state = "running"
    elif all(r.status == "complete" for r in regions):
        state = "complete"
    else:
        state = "incomplete"
    return AccountStatus(
        account_id=account_id,
        status=state,
        regions=regions,
        error=account_doc.get("error"),
        error_code=account_doc.get("error_code"),
        collector=account_doc.get("collector"),
    )


def _overall(accounts: list[AccountStatus]) -> SweepState:
    states = {a.status for a in accounts}
    if not states or states <= {"pending"}:
        return "pending"
    if states & {"pending", "running"}:
        return "running"
    if states == {"complete"}:
        return "complete"
    if states == {"failed"}:
        return "failed"
    return "incomplete"


async def sweep_status(db: Database, sweep_id: str) -> SweepStatus | None:
    """Everything known about one sweep, or None when there is no such sweep."""
    docs = await storage.with_retry(
        lambda: db.sweeps.find({"sweep_id": sweep_id}).to_list(None), what="reading a sweep"
    )
    header = next((d for d in docs if d.get("kind") == "sweep"), None)
    if header is None:
        return None
    account_docs = {d["account_id"]: d for d in docs if d.get("kind") == "account"}
    region_docs: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        if d.get("kind") == "region":
            region_docs.setdefault(d["account_id"], []).append(d)
    account_ids = list(header.get("account_ids") or [])
    account_ids += sorted(set(account_docs) - set(account_ids))
    accounts = [
        _account_status(a, account_docs.get(a), region_docs.get(a, [])) for a in account_ids
    ]
    regions = [r for a in accounts for r in a.regions]
    state = _overall(accounts)
    duration = None
    ends = [r.finished_at for r in regions if r.finished_at is not None]
    ends += [d["finished_at"] for d in account_docs.values() if d.get("finished_at")]
    if state in ("complete", "incomplete", "failed") and ends:
        duration = round((max(ends) - header["requested_at"]).total_seconds(), 3)
    return SweepStatus(
        sweep_id=sweep_id,
        status=state,
        reason=header.get("reason", ""),
        requested_at=header["requested_at"],
        requested_by=header.get("requested_by"),
        regions_requested=header.get("regions"),
        accounts=accounts,
        groups=sum(r.groups for r in regions),
        regions_complete=sum(1 for r in regions if r.status == "complete"),
        regions_incomplete=sum(1 for r in regions if r.status == "incomplete"),
        duration_seconds=duration,
    )


async def recent_sweeps(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    """The latest sweep requests, newest first (headers only)."""
    docs = await storage.with_retry(
        lambda: (
            db.sweeps.find({"kind": "sweep"}, {"_id": 0})
            .sort("started_at", -1)
            .limit(limit)
            .to_list(None)
        ),
        what="listing sweeps",
    )
    return list(docs)
