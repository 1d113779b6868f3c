"""`deliveries`: one document per (event or digest, subscription), with every attempt.

A delivery is `pending` until it is `delivered`, `failed` (dead-lettered) or `cancelled`
(its subscription was deleted or disabled). `due_at` is when it may next be attempted;
claiming a delivery moves `due_at` forward by a lease, so another replica retries it
only if the claimant died. No URL path, query or secret is ever stored: `target` is the
scheme and host of a webhook, or the recipients of an email.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import BulkWriteError

from secmonkey.common.documents import Doc, Subscription
from secmonkey.common.messages import Event
from secmonkey.common.mongo import Database
from secmonkey.common.webhooks import redact_url

Status = Literal["pending", "delivered", "failed", "cancelled"]
DUPLICATE_KEY = 11000


class Attempt(BaseModel):
    n: int
    at: datetime
    outcome: Literal["delivered", "retry", "failed"]
    status_code: int | None = None
    error: str | None = None
    duration_ms: float
    next_at: datetime | None = None


class Delivery(Doc):
    id: str = Field(alias="_id")
    kind: Literal["event", "digest"] = "event"
    subscription_id: str
    subscription_name: str
    channel: str
    target: str
    event_id: str | None = None
    event_ids: list[str]
    events: list[dict[str, Any]] = Field(description="the events, as received")
    status: Status = "pending"
    created_at: datetime
    at: datetime = Field(description="last change")
    due_at: datetime
    attempt_count: int = 0
    attempts: list[Attempt] = Field(default_factory=list)
    last_error: str | None = None
    last_status_code: int | None = None
    delivered_at: datetime | None = None
    failed_at: datetime | None = None
    dead_lettered: bool = False

    @property
    def target_key(self) -> str:
        """What per-target concurrency is counted against: one webhook host, or the SMTP server."""
        return "smtp" if self.channel == "email" else self.target

    def parsed_events(self) -> list[Event]:
        return [Event.model_validate(e) for e in self.events]


def target_of(subscription: Subscription) -> str:
    channel = subscription.channel
    if channel.type == "email":
        return ", ".join(channel.to)
    return redact_url(channel.url or "")


def new_delivery(
    delivery_id: str,
    subscription: Subscription,
    events: list[Event],
    now: datetime,
    *,
    kind: Literal["event", "digest"],
    due_at: datetime,
) -> Delivery:
    return Delivery(
        id=delivery_id,
        kind=kind,
        subscription_id=subscription.id,
        subscription_name=subscription.name,
        channel=subscription.channel.type,
        target=target_of(subscription),
        event_id=events[0].event_id if kind == "event" else None,
        event_ids=[e.event_id for e in events],
        events=[e.model_dump(mode="python") for e in events],
        created_at=now,
        at=now,
        due_at=due_at,
    )


class DeliveryStore:
    def __init__(self, db: Database) -> None:
        self.collection = db.deliveries

    async def insert_new(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Insert; return the ones that did not exist yet (a redelivered event adds none)."""
        if not deliveries:
            return []
        try:
            await self.collection.insert_many([d.to_mongo() for d in deliveries], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            duplicates = {e["index"] for e in errors}
            return [d for i, d in enumerate(deliveries) if i not in duplicates]
        return deliveries

    async def get(self, delivery_id: str) -> Delivery | None:
        doc = await self.collection.find_one({"_id": delivery_id})
        return Delivery.model_validate(doc) if doc else None

    async def due(
        self, now: datetime, limit: int, exclude_targets: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Pending deliveries whose time has come, oldest first (id, channel and target only).

        `exclude_targets` are target keys already busy: `smtp` stands for every email.
        """
        query: dict[str, Any] = {"status": "pending", "due_at": {"$lte": now}}
        excluded = list(exclude_targets or [])
        if "smtp" in excluded:
            query["channel"] = {"$ne": "email"}
            excluded.remove("smtp")
        if excluded:
            query["target"] = {"$nin": excluded}
        cursor = (
            self.collection.find(
                query,
                {"_id": 1, "channel": 1, "target": 1, "due_at": 1},
            )
            .sort("due_at", ASCENDING)
            .limit(limit)
        )
        return [doc async for doc in cursor]

    async def claim(self, delivery_id: str, now: datetime, lease: float) -> Delivery | None:
        doc = await self.collection.find_one_and_update(
            {"_id": delivery_id, "status": "pending", "due_at": {"$lte": now}},
            {"$set": {"due_at": now + timedelta(seconds=lease)}},
            return_document=ReturnDocument.AFTER,
        )
        return Delivery.model_validate(doc) if doc else None

    async def release(self, delivery_id: str, due_at: datetime) -> None:
        await self.collection.update_one(
            {"_id": delivery_id, "status": "pending"}, {"$set": {"due_at": due_at}}
        )

    async def record(
        self, delivery: Delivery, attempt: Attempt | None, changes: dict[str, Any]
    ) -> None:
        """Append `attempt` (if any) and apply `changes`; by `_id` only, the lease makes it ours."""
        update: dict[str, Any] = {"$set": {"at": changes.pop("at"), **changes}}
        if attempt is not None:
            update["$inc"] = {"attempt_count": 1}
            update["$push"] = {"attempts": attempt.model_dump(mode="python")}
        await self.collection.update_one({"_id": delivery.id}, update)
