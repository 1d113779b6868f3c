"""The events outbox: an event is stored before the item commits, published after, and
republished by maintenance if the process stopped in between.

The outbox holds one entry per `store` call, not per event: `_id` a digest of the event
ids, `events` the ids (a first sight stores two events per group, and an entry per event
was a document inserted and deleted per event). An entry is deleted once every event it
lists was published; an entry of an older version, one per event (no `events`: its `_id`
is the event id), is republished as one.

A publish may come after maintenance already republished the same events: the work was
slow (its events stored more than `LATE_SECONDS` ago, maintenance republishes those over
30 s old), or it is a redo (an earlier attempt, here or in another replica, stored them:
the `events` insert refuses them as duplicates). Such a publish is marked republished
too, so the notifier checks its delivery log before sending (one lookup per event, only
for these).
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

from secmonkey.common import amqp
from secmonkey.common.event_feed import event_doc, event_of
from secmonkey.common.messages import EVENTS_EXCHANGE, Event, utcnow
from secmonkey.common.storage import Document, Store

# Well inside maintenance's republish threshold (at least 30 s).
LATE_SECONDS = 15.0
# Events remembered between their store and their publish (beyond: forgotten, unmarked).
_MAX_REMEMBERED = 50_000
REPUBLISH_ENTRIES = 200  # outbox entries per maintenance round


def entry_id(events: list[Event]) -> str:
    """The outbox entry of these events (the same events, the same entry: a redo's store
    finds its earlier attempt's entry)."""
    ids = sorted(e.event_id for e in events)
    return "b:" + hashlib.sha256("\x1f".join(ids).encode()).hexdigest()[:32]


def listed(entry: Document) -> list[str]:
    """The event ids of an outbox entry (an older version's entry is one event)."""
    return list(entry.get("events") or [entry["_id"]])


class Outbox:
    def __init__(self, store: Store, publisher: amqp.Publisher | None) -> None:
        self.storage = store
        self.publisher = publisher
        # event id -> (monotonic time first stored here, stored before by an earlier attempt)
        self._pending: dict[str, tuple[float, bool]] = {}
        # event id -> the outbox entries listing it; entry -> its events not yet published
        self._entries: dict[str, set[str]] = {}
        self._unsent: dict[str, set[str]] = {}

    async def store(self, events: list[Event]) -> None:
        """Store `events` (and, when publishing, remember them until they are published)."""
        if not events:
            return
        entry = entry_id(events)
        if self.publisher is not None:
            ids = [e.event_id for e in events]
            await self.storage.insert("outbox", [{"_id": entry, "at": utcnow(), "events": ids}])
        refused = await self.storage.insert("events", [event_doc(e) for e in events])
        if self.publisher is not None:
            if len(self._pending) > _MAX_REMEMBERED:  # left for maintenance to republish
                self._pending.clear()
                self._entries.clear()
                self._unsent.clear()
            clock = time.monotonic()
            for index, event in enumerate(events):
                first, again = self._pending.get(event.event_id, (clock, False))
                self._pending[event.event_id] = (first, again or index in refused)
                self._entries.setdefault(event.event_id, set()).add(entry)
            self._unsent.setdefault(entry, set()).update(e.event_id for e in events)

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
        # An entry not remembered (or not wholly published) stays for maintenance.
        done: list[str] = []
        for event in events:
            self._pending.pop(event.event_id, None)
            for entry in self._entries.pop(event.event_id, ()):
                unsent = self._unsent.get(entry, set())
                unsent.discard(event.event_id)
                if not unsent and self._unsent.pop(entry, None) is not None:
                    done.append(entry)
        await self.storage.delete_small("outbox", done)

    async def republish(self, older_than: timedelta = timedelta(seconds=30)) -> int:
        """Publish events stored by a run that stopped before publishing them."""
        if self.publisher is None:
            return 0
        cutoff = utcnow() - older_than
        query = self.storage.db.outbox.find({"at": {"$lte": cutoff}})
        entries = await query.to_list(REPUBLISH_ENTRIES)
        if not entries:
            return 0
        ids = list(dict.fromkeys(i for entry in entries for i in listed(entry)))
        stored = await self.storage.read("events", ids)
        events = [event_of(stored[i]) for i in ids if i in stored]
        if events:  # marked: a consumer checks whether it already handled them
            await self.publisher.publish_many(
                EVENTS_EXCHANGE,
                [(e.type, e, e.event_id) for e in events],
                headers={amqp.REPUBLISHED_HEADER: True},
            )
        await self.storage.delete_small("outbox", [e["_id"] for e in entries])
        return len(events)
