"""Reading the event feed and recording the events the API itself causes (justifications)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.api.schemas.issues import EventPage
from secmonkey.common import event_feed
from secmonkey.common.dates import aware
from secmonkey.common.errors import InvalidInput
from secmonkey.common.event_feed import event_of
from secmonkey.common.messages import EVENTS_EXCHANGE, Event, EventType, parse_message
from secmonkey.common.outbox import Outbox, Outgoing, Requirement
from secmonkey.common.storage import Database, filters, with_retry

log = logging.getLogger(__name__)


def event_message(event: Event, requires: Requirement | None = None) -> Outgoing:
    return Outgoing.of(EVENTS_EXCHANGE, event.type, event, event.event_id, requires)


async def store_event(outbox: Outbox, message: Outgoing) -> None:
    """Store an event in the outbox (before the write it announces, if it names one)."""
    await with_retry(lambda: outbox.put([message]), what="storing an event in the outbox")


async def announce(db: Database, outbox: Outbox, event: Event, message: Outgoing) -> bool:
    """Append a stored event to the feed, then publish it; True if RabbitMQ took it now (if
    not, the outbox's republisher sends it once RabbitMQ is reachable)."""
    await event_feed.append(db, event)
    return await outbox.send([message])


async def record_event(db: Database, outbox: Outbox, event: Event) -> bool:
    """Store `event` in the outbox, append it to the feed, then publish it."""
    message = event_message(event)
    await store_event(outbox, message)
    return await announce(db, outbox, event, message)


def feed_before_republish(db: Database) -> Callable[[Outgoing], Awaitable[None]]:
    """For the API's outbox: an event sent by the republisher is in the feed too (the
    request that stored it may have stopped before appending it)."""

    async def append(message: Outgoing) -> None:
        if message.exchange == EVENTS_EXCHANGE:
            await event_feed.append(db, parse_message(Event, message.body))

    return append


class _EventCursor(BaseModel):
    a: datetime
    e: str


async def find_events(
    db: Database,
    *,
    types: list[EventType] | None = None,
    account_id: str | None = None,
    region: str | None = None,
    group_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    order: Literal["desc", "asc"] = "desc",
    limit: int = 100,
    cursor: str | None = None,
) -> EventPage:
    """The feed filtered by type, place and time, newest first unless `order` is `asc`."""
    query: dict[str, Any] = {}
    if types:
        unique = sorted(set(types))
        query |= (
            filters.equals(type=unique[0]) if len(unique) == 1 else filters.one_of("type", unique)
        )
    query |= filters.equals(
        account_id=account_id or None, region=region or None, group_id=group_id or None
    )
    bounds: dict[str, datetime] = {}
    if since is not None:
        bounds["$gt"] = aware(since)
    if until is not None:
        bounds["$lte"] = aware(until)
    if since is not None and until is not None and aware(since) > aware(until):
        raise InvalidInput("since is after until")
    if bounds:
        query["at"] = bounds
    position = decode_cursor(cursor, _EventCursor)
    direction = -1 if order == "desc" else 1
    if position is not None:
        beyond = "$lt" if direction == -1 else "$gt"
        query["$or"] = [
            {"at": {beyond: aware(position.a)}},
            {"at": aware(position.a), "event_id": {beyond: position.e}},
        ]
    docs = (
        await db.events.find(query)
        .sort([("at", direction), ("event_id", direction)])
        .limit(limit)
        .to_list()
    )
    items = [event_of(d) for d in docs]
    next_cursor = None
    if len(items) == limit:
        next_cursor = encode_cursor(_EventCursor(a=items[-1].at, e=items[-1].event_id))
    return EventPage(items=items, next_cursor=next_cursor)
