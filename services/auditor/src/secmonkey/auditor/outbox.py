"""The events outbox: an event is stored before the item commits, published after, and
republished by maintenance if the process stopped in between.

A publish may come after maintenance already republished the same events: the work was
slow (its events stored more than `LATE_SECONDS` ago, maintenance republishes those over
30 s old), or it is a redo (an earlier attempt, here or in another replica, stored them:
the `events` insert refuses them as duplicates). Such a publish is marked republished
too, so the notifier checks its delivery log before sending (one lookup per event, only
for these).
"""

from __future__ import annotations

import time
from datetime import timedelta

from secmonkey.common import amqp
from secmonkey.common.event_feed import event_doc, event_of
from secmonkey.common.messages import EVENTS_EXCHANGE, Event, utcnow
from secmonkey.common.storage import Store

# Well inside maintenance's republish threshold (at least 30 s).
LATE_SECONDS = 15.0
# Events remembered between their store and their publish (beyond: forgotten, unmarked).
_MAX_REMEMBERED = 50_000


class Outbox:
    def __init__(self, store: Store, publisher: amqp.Publisher | None) -> None:
        self.storage = store
        self.publisher = publisher
        # event id -> (monotonic time first stored here, stored before by an earlier attempt)
        self._pending: dict[str, tuple[float, bool]] = {}

    async def store(self, events: list[Event]) -> None:
        """Store `events` (and, when publishing, remember them until they are published)."""
        if not events:
            return
        if self.publisher is not None:
            now = utcnow()
            await self.storage.insert("outbox", [{"_id": e.event_id, "at": now} for e in events])
        refused = await self.storage.insert("events", [event_doc(e) for e in events])
        if self.publisher is not None:
            if len(self._pending) > _MAX_REMEMBERED:
                self._pending.clear()
            clock = time.monotonic()
            for index, event in enumerate(events):
                first, again = self._pending.get(event.event_id, (clock, False))
                self._pending[event.event_id] = (first, again or index in refused)

    def _late(self, events: list[Event]) -> bool:
        """Whether maintenance may have republished any of `events` already."""
        clock = time.monotonic()
        for event in events:
            first, again = self._pending.get(event.event_id, (clock, False))
            if again or clock - first > LATE_SECONDS:
                return True
        return False

    async def publish(self, events: list[Event]) -> None:
        """Publish on `secmonkey.events` (routing key = type, message id = event id)."""
        if self.publisher is None or not events:
            return
        late = self._late(events)
        await self.publisher.publish_many(
            EVENTS_EXCHANGE,
            [(e.type, e, e.event_id) for e in events],
            headers={amqp.REPUBLISHED_HEADER: True} if late else None,
        )
        await self.storage.delete_small("outbox", [e.event_id for e in events])
        for event in events:
            self._pending.pop(event.event_id, None)

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
        await self.storage.delete_small("outbox", [e["_id"] for e in entries])
        return len(events)
