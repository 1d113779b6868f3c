"""The change and issue feed (`events`, owned by the auditor): its document form, and the
one way another service appends to it (the API's `issue.justified`)."""

from __future__ import annotations

from typing import Any

from secmonkey.common.messages import Event
from secmonkey.common.storage import Database

EVENT_FIELDS = frozenset(Event.model_fields)


def event_doc(event: Event) -> dict[str, Any]:
    """The `events` document: the Event itself, with `_id` = `event_id`."""
    doc = event.model_dump(mode="python")
    doc["_id"] = event.event_id
    return doc


def event_of(doc: dict[str, Any]) -> Event:
    """An `events` document as the Event it records (storage-only fields dropped)."""
    return Event.model_validate({k: v for k, v in doc.items() if k in EVENT_FIELDS})


async def append(db: Database, event: Event) -> None:
    """Append `event` to the feed once, however often it is called."""
    doc = event_doc(event)
    doc.pop("_id")
    await db.events.update_one({"_id": event.event_id}, {"$setOnInsert": doc}, upsert=True)
