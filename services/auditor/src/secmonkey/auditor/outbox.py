"""The events outbox: an event is stored before the item commits, published after, and
republished by maintenance if the process stopped in between."""

from __future__ import annotations

from datetime import timedelta

from secmonkey.common import amqp
from secmonkey.common.event_feed import event_doc, event_of
from secmonkey.common.messages import EVENTS_EXCHANGE, Event, utcnow
from secmonkey.common.storage import Delete, Store


class Outbox:
    def __init__(self, store: Store, publisher: amqp.Publisher | None) -> None:
        self.storage = store
        self.publisher = publisher

    async def store(self, events: list[Event]) -> None:
        """Store `events` (and, when publishing, remember them until they are published)."""
        if not events:
            return
        if self.publisher is not None:
            now = utcnow()
            await self.storage.insert("outbox", [{"_id": e.event_id, "at": now} for e in events])
        await self.storage.insert("events", [event_doc(e) for e in events])

    async def publish(self, events: list[Event]) -> None:
        """Publish on `secmonkey.events` (routing key = type, message id = event id)."""
        if self.publisher is None or not events:
            return
        await self.publisher.publish_many(
            EVENTS_EXCHANGE, [(e.type, e, e.event_id) for e in events]
        )
        await self.storage.write("outbox", [Delete(e.event_id) for e in events])

    async def republish(self, older_than: timedelta = timedelta(seconds=30)) -> int:
        """Publish events stored by a run that stopped before publishing them."""
        if self.publisher is None:
            return 0
        cutoff = utcnow() - older_than
        entries = await self.storage.db.outbox.find({"at": {"$lte": cutoff}}).to_list(1000)
        if not entries:
            return 0
        stored = await self.storage.read("events", [e["_id"] for e in entries])
        events = [event_of(stored[e["_id"]]) for e in entries if e["_id"] in stored]
        if events:  # marked: a consumer checks whether it already handled them
            await self.publisher.publish_many(
                EVENTS_EXCHANGE,
                [(e.type, e, e.event_id) for e in events],
                headers={amqp.REPUBLISHED_HEADER: True},
            )
        await self.storage.write("outbox", [Delete(e["_id"]) for e in entries])
        return len(events)
