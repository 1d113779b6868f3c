"""Reading the event feed and recording the events the API itself causes (justifications)."""

from __future__ import annotations

import logging
from typing import Any

from secmonkey.common.amqp import Publisher
from secmonkey.common.messages import EVENTS_EXCHANGE, Event
from secmonkey.common.mongo import Database

log = logging.getLogger(__name__)
EVENT_FIELDS = frozenset(Event.model_fields)


def event_of(doc: dict[str, Any]) -> Event:
    """An `events` document as the Event message it records (storage-only fields dropped)."""
    return Event.model_validate({k: v for k, v in doc.items() if k in EVENT_FIELDS})


async def record_event(db: Database, publisher: Publisher | None, event: Event) -> None:
    """Append `event` to the feed, then publish it; the feed keeps it if RabbitMQ is down."""
    await db.events.update_one(
        {"_id": event.event_id},
        {"$setOnInsert": event.model_dump(mode="python")},
        upsert=True,
    )
    if publisher is None:
        log.warning("no RabbitMQ publisher; event %s is in the feed only", event.event_id)
        return
    try:
        await publisher.publish(EVENTS_EXCHANGE, event.type, event, message_id=event.event_id)
    except Exception:
        log.exception("could not publish event %s; it is in the feed only", event.event_id)
