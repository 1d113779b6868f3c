"""The notifier's outbox, `delivery_schedule`: one document per delivery still to be made.

The collection is owned by the notifier: it inserts an entry for every delivery an event
or a digest needs, claims the due ones, reschedules and removes them
(`secmonkey.notifier.deliveries`). The API only inserts the entry of a test notification
for one subscription, built by `new_delivery` and stored as `entry_doc`, so the notifier
sends it through its real channel code like any other.

An entry is a `Delivery` (also the start of the notifier's `deliveries` record of what
happened) plus the target it counts against. No URL path, query or secret is stored:
`target` is the scheme and host of a webhook, or the recipients of an email.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from secmonkey.common.documents import Doc, Subscription
from secmonkey.common.messages import Event
from secmonkey.common.storage import Database
from secmonkey.common.webhooks import redact_url

_EVENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])
Status = Literal["pending", "delivered", "failed", "cancelled"]


class Attempt(BaseModel):
    """One attempt of a delivery; `unknown`: sent, no answer in time (it may have been received)."""

    n: int
    at: datetime
    outcome: Literal["delivered", "retry", "unknown", "failed"]
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
    events_json: str = Field(
        default="[]",
        description="the events as one JSON array (kept in the outbox only): one string is "
        "far cheaper for FerretDB to store and scan than nested documents",
    )
    summary: str = Field(default="", description="what was sent, in a line")
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
    test: bool = Field(
        default=False,
        exclude=True,
        description="a test the API queued; stored (by `entry_doc`) only when set",
    )

    @property
    def target_key(self) -> str:
        """What per-target concurrency is counted against: one webhook host, or the SMTP server."""
        return "smtp" if self.channel == "email" else self.target

    def parsed_events(self) -> list[Event]:
        return _EVENTS.validate_json(self.events_json)


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
    summary: str,
    test: bool = False,
) -> Delivery:
    """A pending delivery of `events` to `subscription`, first due at `due_at`."""
    return Delivery(
        id=delivery_id,
        kind=kind,
        subscription_id=subscription.id,
        subscription_name=subscription.name,
        channel=subscription.channel.type,
        target=target_of(subscription),
        event_id=events[0].event_id if kind == "event" else None,
        event_ids=[e.event_id for e in events],
        events_json=_EVENTS.dump_json(events).decode(),
        summary=summary,
        created_at=now,
        at=now,
        due_at=due_at,
        test=test,
    )


def entry_doc(delivery: Delivery) -> dict[str, Any]:
    """The `delivery_schedule` document of `delivery`, as inserted."""
    doc = {**delivery.to_mongo(), "target_key": delivery.target_key}
    if delivery.test:
        doc["test"] = True
    return doc


async def schedule(db: Database, delivery: Delivery) -> None:
    """Put one entry in the notifier's outbox, due at its `due_at` (the API's test
    notification; the notifier itself batches its entries through group commit)."""
    await db.delivery_schedule.insert_one(entry_doc(delivery))
