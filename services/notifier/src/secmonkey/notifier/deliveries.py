"""Deliveries: what must be sent (`delivery_schedule`) and what happened (`deliveries`).

`delivery_schedule` is the outbox: one document per delivery still to be made — the
subscription, the events, `due_at` and the target it counts against (its model and
builder are in `secmonkey.common.delivery_schedule`, which the API's subscription test
uses too). It is written before the event is acknowledged, and it stays small, so the
retry loop's query is cheap even where indexes do not help (FerretDB over SQLite scans).
Claiming an entry moves its `due_at` forward by a lease, so another replica retries it
only if the claimant died.

`deliveries` is the record: one document per (event or digest, subscription) with the
event IDs, a one-line summary, every attempt and the status — `pending` (retrying),
`delivered`, `failed` (dead-lettered) or `cancelled` (its subscription was deleted or
disabled). It is inserted with the first attempt's outcome (one batched insert, no
update, on the happy path) and updated by later attempts; only then is the outbox entry
removed or rescheduled. `delivery_claims` holds the claims (see `DeliveryStore.claim`).
No URL path, query or secret is stored in either: `target` is the scheme and host of a
webhook, or the recipients of an email.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING

from secmonkey.common.delivery_schedule import Attempt, Delivery, entry_doc
from secmonkey.common.storage import Database
from secmonkey.common.storage.group_commit import GroupCommit

log = logging.getLogger(__name__)


class DeliveryStore:
    def __init__(self, db: Database, writes: GroupCommit) -> None:
        self.collection = db.deliveries
        self.schedule = db.delivery_schedule
        self.claims = db.delivery_claims
        self.writes = writes

    async def insert_new(
        self, deliveries: list[Delivery], *, redelivered: bool = False
    ) -> list[Delivery]:
        """Put deliveries in the outbox; return those that were not queued already.

        The outbox's unique `_id` stops an event seen twice while its delivery is pending.
        For an event RabbitMQ redelivers (the consumer died or failed before its ack),
        `deliveries` is also checked, so one already made is not made again. (Checking
        it for every event is what FerretDB cannot afford: one lookup per event at
        100/s, beside the writes, multiplied the latency by ten in the benchmark.)

        The check comes after the insert, for the entries it added: an attempt records
        its outcome in `deliveries` before it removes its outbox entry, so an entry that
        was gone when ours went in had its outcome recorded by then. (Checked before the
        insert, another replica finishing the delivery in between — record, then remove —
        left neither to see, and the alert went out twice.)
        """
        if not deliveries:
            return []
        fresh = await self.writes.insert("delivery_schedule", [entry_doc(d) for d in deliveries])
        todo = [d for d, new in zip(deliveries, fresh, strict=True) if new]
        if not redelivered or not todo:
            return todo
        # One lookup by `_id` each: FerretDB serves `_id` equality from its primary key
        # but scans the whole collection for `{"_id": {"$in": [...]}}`.
        made = await asyncio.gather(
            *(self.collection.find_one({"_id": d.id}, {"_id": 1}) for d in todo)
        )
        done = [d.id for d, found in zip(todo, made, strict=True) if found is not None]
        if done:
            await self.writes.delete("delivery_schedule", done)
        return [d for d, found in zip(todo, made, strict=True) if found is None]

    async def due(
        self, now: datetime, limit: int, exclude_targets: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Outbox entries whose time has come, oldest first, skipping busy targets."""
        query: dict[str, Any] = {"due_at": {"$lte": now}}
        if exclude_targets:
            query["target_key"] = {"$nin": list(exclude_targets)}
        cursor = (
            self.schedule.find(query, {"_id": 1, "target_key": 1, "due_at": 1})
            .sort("due_at", ASCENDING)
            .limit(limit)
        )
        return [doc async for doc in cursor]

    async def claim(self, delivery_id: str, now: datetime, lease: float) -> Delivery | None:
        """Take a due outbox entry for `lease` seconds; None if another replica has it.

        FerretDB 1.24 applies conditional updates without isolation (two concurrent
        `find_one_and_update` calls on one document both "win"), so the claim itself is
        the insert of a unique `delivery_claims` document named after the entry's
        version and the current lease period; the winner then moves `due_at` and bumps
        the version. A claimant that dies in between blocks the entry for at most one
        lease period. Two claims straddling a period boundary can both win (a rare
        duplicate send, which the idempotency key absorbs).
        """
        entry = await self.schedule.find_one({"_id": delivery_id})
        if entry is None or entry["due_at"] > now:
            return None
        version = int(entry.get("version", 0))
        period = int(now.timestamp() // lease)
        [won] = await self.writes.insert(
            "delivery_claims", [{"_id": f"{delivery_id}@{version}@{period}", "at": now}]
        )
        if not won:
            return None
        entry["due_at"] = now + timedelta(seconds=lease)
        await self.writes.update(
            "delivery_schedule",
            {"_id": delivery_id},
            {"$set": {"due_at": entry["due_at"], "version": version + 1}},
        )
        delivery = Delivery.model_validate(entry)
        recorded = await self.collection.find_one(
            {"_id": delivery_id}, {"status": 1, "attempts": 1, "attempt_count": 1}
        )
        if recorded is None:
            return delivery
        if recorded["status"] != "pending":  # its outcome is recorded; the entry is left over
            await self.writes.delete("delivery_schedule", [delivery_id])
            return None
        return delivery.model_copy(
            update={
                "attempts": [Attempt.model_validate(a) for a in recorded.get("attempts", [])],
                "attempt_count": recorded.get("attempt_count", 0),
            }
        )

    async def forget_claims(self, before: datetime) -> None:
        """Drop claim documents older than any live lease (a periodic delete, no TTL index)."""
        await self.claims.delete_many({"at": {"$lt": before}})

    async def release(self, delivery_id: str, due_at: datetime) -> None:
        await self.writes.update(
            "delivery_schedule", {"_id": delivery_id}, {"$set": {"due_at": due_at}}
        )

    async def record(
        self,
        delivery: Delivery,
        attempt: Attempt | None,
        changes: dict[str, Any],
    ) -> None:
        """Record `attempt` and `changes` in `deliveries`, then reschedule or unschedule.

        The first outcome inserts the record; later ones `$set` the whole attempt list by
        `_id` (the lease makes this process the only writer).
        """
        fields = dict(changes)
        if attempt is not None:
            fields["attempts"] = [a.model_dump(mode="python") for a in delivery.attempts] + [
                attempt.model_dump(mode="python")
            ]
            fields["attempt_count"] = delivery.attempt_count + 1
        inserted = False
        if delivery.attempt_count == 0:
            record = {**delivery.to_mongo(), **fields}
            del record["events_json"]  # the outbox has them; `deliveries` keeps IDs and summary
            [inserted] = await self.writes.insert("deliveries", [record], linger=True)
        if not inserted:
            await self.writes.update("deliveries", {"_id": delivery.id}, {"$set": fields})
        if fields.get("status", "pending") == "pending":
            due_at = fields.get("due_at", delivery.due_at)
            await self.writes.update(
                "delivery_schedule", {"_id": delivery.id}, {"$set": {"due_at": due_at}}
            )
        else:
            # A finished entry left over for a moment is harmless: a claim sees the
            # recorded outcome and drops it.
            self.writes.delete_later("delivery_schedule", [delivery.id])
