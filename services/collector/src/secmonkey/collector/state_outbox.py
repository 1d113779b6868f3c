"""Events kept in the document of the state they describe (a watchdog condition, an
organization account) until they are in the feed and published: the collector's own
small outboxes, drained the same way by everyone who keeps one."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from aio_pika.exceptions import PublishError

from secmonkey.common import event_feed
from secmonkey.common.amqp import Publisher
from secmonkey.common.messages import EVENTS_EXCHANGE, Event
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)


class HasOutbox(Protocol):
    outbox: Any  # the events still to send, as stored (dicts)


S = TypeVar("S", bound=HasOutbox)


async def drain(
    db: Database,
    publisher: Publisher,
    states: Iterable[S],
    save: Callable[[S], Awaitable[None]],
) -> list[Event]:
    """Put each waiting event in the feed and publish it, oldest first; what was sent
    leaves its state's outbox (saved), the rest waits for the next round."""
    sent: list[Event] = []
    for state in states:
        remaining = list(state.outbox)
        try:
            while remaining:
                event = Event.model_validate(remaining[0])
                await event_feed.append(db, event)
                try:
                    await publisher.publish(
                        EVENTS_EXCHANGE, event.type, event, message_id=event.event_id
                    )
                except PublishError:  # returned unroutable: no queue is bound for it
                    log.warning("no queue takes %s events; it is in the feed only", event.type)
                sent.append(event)
                remaining.pop(0)
        finally:
            if len(remaining) < len(state.outbox):
                state.outbox = remaining
                await save(state)
    return sent
