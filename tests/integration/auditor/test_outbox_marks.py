"""A publish that may follow maintenance's republish of the same events is marked too;
the outbox keeps one entry per store of events."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from secmonkey.auditor import outbox as outbox_module
from secmonkey.auditor.outbox import Outbox
from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common import amqp
from secmonkey.common.messages import EVENTS_EXCHANGE, Event, utcnow
from secmonkey.common.storage import Database, Store
from tests.integration.auditor.kit import batch, snap

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def events_queue(
    rabbit: AbstractRobustConnection, unique: str
) -> AsyncIterator[AbstractQueue]:
    channel = await rabbit.channel()
    exchanges = await amqp.declare_exchanges(channel)
    queue = await channel.declare_queue(f"test.outbox.events.{unique}", exclusive=True)
    await queue.bind(exchanges[EVENTS_EXCHANGE], routing_key="group.*")
    yield queue
    await channel.close()


async def one_group_event(db: Database) -> list[Event]:
    """A `group.created` event, stored (in `events`) as an earlier attempt would have."""
    account = str(random.randint(200000000000, 999999999999))
    return await Auditor(db, RulesConfig()).handle(
        batch(0, snap("sg-a", account=account), account=account)
    )


async def received(queue: AbstractQueue, event_id: str) -> AbstractIncomingMessage:
    for _ in range(200):
        message = await queue.get(no_ack=True, fail=False)
        if message is not None and message.message_id == event_id:
            return message
        if message is None:
            await asyncio.sleep(0.1)
    raise AssertionError(f"event {event_id} was not published")


async def publish_again(
    db: Database, rabbit: AbstractRobustConnection, events: list[Event], *, forget: bool
) -> None:
    """Store and publish `events` through an outbox (`forget`: as if never stored)."""
    if forget:  # not stored before: a first attempt
        await db.events.delete_many({"_id": {"$in": [e.event_id for e in events]}})
    publisher = await amqp.Publisher.open(rabbit)
    try:
        outbox = Outbox(Store(db), publisher)
        await outbox.store(events)
        await outbox.publish(events)
    finally:
        await publisher.close()


async def test_a_redo_of_stored_events_is_published_marked(
    db: Database, rabbit: AbstractRobustConnection, events_queue: AbstractQueue
) -> None:
    """An earlier attempt stored the events (maintenance may have republished them): the
    redo's publish carries the republished mark; a first attempt's does not."""
    first = await one_group_event(db)
    await publish_again(db, rabbit, first, forget=True)
    fresh = await received(events_queue, first[0].event_id)
    redo = await one_group_event(db)
    await publish_again(db, rabbit, redo, forget=False)
    again = await received(events_queue, redo[0].event_id)
    assert not (fresh.headers or {}).get(amqp.REPUBLISHED_HEADER)
    assert (again.headers or {}).get(amqp.REPUBLISHED_HEADER) is True


async def test_a_publish_long_after_the_store_is_published_marked(
    db: Database,
    rabbit: AbstractRobustConnection,
    events_queue: AbstractQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Work slower than maintenance's threshold: its own publish comes marked."""
    monkeypatch.setattr(outbox_module, "LATE_SECONDS", 0.0)
    events = await one_group_event(db)
    await publish_again(db, rabbit, events, forget=True)
    message = await received(events_queue, events[0].event_id)
    assert (message.headers or {}).get(amqp.REPUBLISHED_HEADER) is True


async def test_a_store_is_one_outbox_entry_removed_once_all_its_events_are_published(
    db: Database, rabbit: AbstractRobustConnection, events_queue: AbstractQueue
) -> None:
    """The outbox holds one entry per store (its events' ids), deleted once every event
    it lists is published; an entry left by a process that stopped in between is
    republished whole by maintenance."""
    first, second = await one_group_event(db), await one_group_event(db)
    events = first + second
    publisher = await amqp.Publisher.open(rabbit)
    try:
        outbox = Outbox(Store(db), publisher)
        await outbox.store(events)
        entry = outbox_module.entry_id(events)
        stored = await db.outbox.find_one({"_id": entry})
        assert stored is not None
        assert sorted(stored["events"]) == sorted(e.event_id for e in events)
        await outbox.publish(first)  # a part: the entry stays
        assert await db.outbox.find_one({"_id": entry}) is not None
        await outbox.publish(second)
        assert await db.outbox.find_one({"_id": entry}) is None
        for event in events:
            await received(events_queue, event.event_id)

        # Stopped before publishing: the entry a first attempt left, five minutes ago, is
        # republished whole by another process.
        ids = [e.event_id for e in events]
        at = utcnow() - timedelta(minutes=5)
        await db.outbox.insert_one({"_id": entry, "at": at, "events": ids})
        assert await Outbox(Store(db), publisher).republish() == len(events)
        for event in events:
            message = await received(events_queue, event.event_id)
            assert (message.headers or {}).get(amqp.REPUBLISHED_HEADER) is True
        assert await db.outbox.find_one({"_id": entry}) is None
    finally:
        await publisher.close()
