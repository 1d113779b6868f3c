"""What has been read (`flowlog_checkpoints`) and the groups' usage (`rule_usage_summary`).

A batch of units is journalled (`batch|…`, open) before it is read; its effect on each
group's summary is written with the batch's id in the summary's `batches`; only then are
its units marked read and the batch closed. A restart re-reads the open batch with the
same units, and summaries that already hold its id skip it: each record counts once.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from secmonkey.common import storage
from secmonkey.common.rule_usage import PACKED_RULES
from secmonkey.common.storage import Database

CHUNK = 500
COLLECTION = "rule_usage_summary"


def scope_id(account_id: str, region: str, place_id: str) -> str:
    return f"{account_id}|{region}|{place_id}"


async def cursor(db: Database, scope: str, start: datetime) -> datetime:
    """Since when this scope is read (set on the first read, `start`, then kept)."""
    doc = await storage.with_retry(
        lambda: db.flowlog_checkpoints.find_one({"_id": f"cursor|{scope}"}), what="checkpoint"
    )
    if doc is not None:
        since: datetime = doc["since"]
        return since.replace(tzinfo=UTC) if since.tzinfo is None else since
    await storage.insert_unique(db.flowlog_checkpoints, {"_id": f"cursor|{scope}", "since": start})
    return start


async def done_units(db: Database, scope: str, day: str) -> set[str]:
    doc = await storage.with_retry(
        lambda: db.flowlog_checkpoints.find_one({"_id": f"done|{scope}|{day}"}),
        what="checkpoint",
    )
    return set(doc.get("units", [])) if doc else set()


async def open_batches(db: Database, scope: str) -> list[dict[str, Any]]:
    docs = await storage.with_retry(
        lambda: db.flowlog_checkpoints.find({"scope": scope, "state": "open"}).to_list(None),
        what="checkpoint",
    )
    return sorted(docs, key=lambda d: d["at"])


async def begin_batch(db: Database, scope: str, units: list[tuple[str, str]]) -> str:
    """Journal a batch of (day, unit) before reading it; its id depends only on them."""
    digest = hashlib.sha256("\n".join(f"{d} {u}" for d, u in units).encode()).hexdigest()[:20]
    batch_id = f"batch|{scope}|{digest}"
    await storage.insert_unique(
        db.flowlog_checkpoints,
        {
            "_id": batch_id,
            "scope": scope,
            "state": "open",
            "units": [{"day": d, "unit": u} for d, u in units],
            "at": datetime.now(UTC),
        },
    )
    return batch_id


async def end_batch(db: Database, batch_id: str, units: list[tuple[str, str]]) -> None:
    by_day: dict[str, list[str]] = {}
    for day, unit in units:
        by_day.setdefault(day, []).append(unit)
    scope = batch_id.split("|", 1)[1].rsplit("|", 1)[0]
    for day, names in by_day.items():
        await storage.with_retry(
            lambda d=day, n=names: db.flowlog_checkpoints.update_one(  # type: ignore[misc]
                {"_id": f"done|{scope}|{d}"},
                {"$addToSet": {"units": {"$each": n}}},
                upsert=True,
            ),
            what="checkpoint",
        )
    await storage.with_retry(
        lambda: db.flowlog_checkpoints.update_one({"_id": batch_id}, {"$set": {"state": "done"}}),
        what="checkpoint",
    )


async def load_summaries(db: Database, account_id: str, region: str) -> dict[str, dict[str, Any]]:
    docs = await storage.with_retry(
        lambda: db.rule_usage_summary.find({"account_id": account_id, "region": region}).to_list(
            None
        ),
        what="reading rule usage",
    )
    out = {}
    for doc in docs:
        packed = doc.pop(PACKED_RULES, None)
        doc["rules"] = storage.unpack(packed) if packed is not None else doc.get("rules", [])
        out[doc["_id"]] = doc
    return out


async def save_summaries(db: Database, docs: list[dict[str, Any]], stored: set[str]) -> None:
    """Write each summary whole, its rules packed (one writer: the scheduler lease
    holder). Summaries not in `stored` (the keys known to exist, kept up to date here) are
    inserted in one unordered bulk insert, the others replaced in bulk writes."""
    store = storage.Store(db)
    fresh: list[dict[str, Any]] = []
    replaced: list[storage.WriteOp] = []
    for doc in docs:
        body = {k: v for k, v in doc.items() if k not in ("_id", "rules")}
        body[PACKED_RULES] = storage.pack(doc["rules"])
        if doc["_id"] not in stored:
            fresh.append({"_id": doc["_id"], **body})
        else:
            replaced.append(storage.Replace(doc["_id"], body))
    if fresh:
        refused = await storage.with_retry(
            lambda: store.insert(COLLECTION, fresh), what="writing rule usage"
        )
        replaced += [
            storage.Replace(fresh[i]["_id"], {k: v for k, v in fresh[i].items() if k != "_id"})
            for i in sorted(refused)
        ]
        stored.update(d["_id"] for d in fresh)
    for start in range(0, len(replaced), CHUNK):
        chunk = replaced[start : start + CHUNK]
        await storage.with_retry(
            lambda c=chunk: store.write(COLLECTION, c),  # type: ignore[misc]
            what="writing rule usage",
        )
