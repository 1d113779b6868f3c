"""Recording sweep status in the `sweeps` collection (`secmonkey.common.sweep_status` reads it,
as `GET /api/v1/sweeps/{id}` shows it).

One document per sweep (what was asked: `secmonkey.common.sweep_requests` writes it for
whoever asks), one per account (which regions it planned, or
why it failed before reaching any), one per account-region (outcome, counts, error,
duration). Replicas working on different accounts of one sweep write different
documents, so no update races another. And one per account, `complete:<account>`: its
latest complete sweep (every region read to the end), the watchdog's clock; it is not
pruned with the rest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from secmonkey.common import storage
from secmonkey.common.messages import utcnow
from secmonkey.common.storage import Database, Store
from secmonkey.common.sweep_status import (
    AccountStatus,
    RegionStatus,
    SweepState,
    SweepStatus,
    recent_sweeps,
    sweep_status,
)

__all__ = [
    "AccountStatus",
    "RegionStatus",
    "SweepState",
    "SweepStatus",
    "recent_sweeps",
    "sweep_status",
]


async def _upsert(db: Database, doc_id: str, fields: dict[str, Any], what: str) -> None:
    await storage.with_retry(
        lambda: db.sweeps.update_one({"_id": doc_id}, {"$set": fields}, upsert=True), what=what
    )


async def account_started(
    db: Database, sweep_id: str, account_id: str, regions: list[str], collector: str
) -> None:
    await _upsert(
        db,
        f"{sweep_id}:{account_id}",
        {
            "kind": "account",
            "sweep_id": sweep_id,
            "account_id": account_id,
            "status": "running",
            "regions": regions,
            "error": None,
            "error_code": None,
            "collector": collector,
            "started_at": utcnow(),
        },
        "recording an account's start",
    )


async def account_finished(
    db: Database,
    sweep_id: str,
    account_id: str,
    collector: str,
    *,
    error: str | None = None,
    error_code: str | None = None,
) -> None:
    """`done` once its regions are recorded; `failed` when no region could even be started."""
    await _upsert(
        db,
        f"{sweep_id}:{account_id}",
        {
            "kind": "account",
            "sweep_id": sweep_id,
            "account_id": account_id,
            "status": "failed" if error else "done",
            "error": error,
            "error_code": error_code,
            "collector": collector,
            "finished_at": utcnow(),
        },
        "recording an account's end",
    )


async def region_started(
    db: Database, sweep_id: str, account_id: str, region: str, collector: str, at: datetime
) -> None:
    await _upsert(
        db,
        f"{sweep_id}:{account_id}:{region}",
        {
            "kind": "region",
            "sweep_id": sweep_id,
            "account_id": account_id,
            "region": region,
            "status": "running",
            "collector": collector,
            "started_at": at,
            "finished_at": None,
            "error": None,
            "error_code": None,
        },
        "recording a region's start",
    )


async def region_finished(
    db: Database,
    sweep_id: str,
    account_id: str,
    region: str,
    *,
    complete: bool,
    groups: int,
    batches: int,
    started_at: datetime,
    error: str | None,
    error_code: str | None,
    collector: str,
) -> None:
    finished = utcnow()
    await _upsert(
        db,
        f"{sweep_id}:{account_id}:{region}",
        {
            "kind": "region",
            "sweep_id": sweep_id,
            "account_id": account_id,
            "region": region,
            "status": "complete" if complete else "incomplete",
            "groups": groups,
            "batches": batches,
            "error": error,
            "error_code": error_code,
            "collector": collector,
            "started_at": started_at,
            "finished_at": finished,
            "duration_seconds": round((finished - started_at).total_seconds(), 3),
        },
        "recording a region's end",
    )


async def account_complete(db: Database, sweep_id: str, account_id: str) -> None:
    """Every region of the account was read to the end in `sweep_id`, just now."""
    await _upsert(
        db,
        f"complete:{account_id}",
        {
            "kind": "last_complete",
            "account_id": account_id,
            "last_sweep_id": sweep_id,
            "finished_at": utcnow(),
        },
        "recording an account's complete sweep",
    )


async def last_complete(db: Database, account_ids: list[str]) -> dict[str, datetime]:
    """When each account's latest complete sweep finished (accounts never swept absent)."""
    docs = await Store(db).read("sweeps", [f"complete:{a}" for a in account_ids])
    return {d["account_id"]: d["finished_at"] for d in docs.values()}
