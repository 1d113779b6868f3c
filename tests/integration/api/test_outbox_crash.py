"""A justification and its `issue.justified` event survive a crash at any step: the event
is stored in the outbox before the write, naming it; the republisher sends it (and puts it
in the feed) exactly when the justification exists, and drops it when it never came."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from aio_pika import ExchangeType
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import QueueEmpty

from secmonkey.api.queries.events import event_message, feed_before_republish, store_event
from secmonkey.api.queries.issues import justified_event
from secmonkey.common import amqp, justifications, storage
from secmonkey.common.documents import Issue, Justification
from secmonkey.common.messages import EVENTS_EXCHANGE, Event
from secmonkey.common.outbox import ABANDON_AFTER, Outbox, Outgoing, Requirement
from secmonkey.common.storage import Store
from tests.integration.api import harness
from tests.support.estate import LEGACY

pytestmark = pytest.mark.integration
PERIOD = timedelta(seconds=1)


async def test_an_event_is_sent_exactly_when_the_write_it_announces_exists(
    mongo_url: str, rabbit: AbstractRobustConnection
) -> None:
    name = await harness.fresh_estate(mongo_url)
    client = storage.connect(mongo_url)
    await storage.detect(client)
    channel = await rabbit.channel()
    events = await channel.declare_exchange(EVENTS_EXCHANGE, ExchangeType.TOPIC, durable=True)
    received = await channel.declare_queue(exclusive=True)
    await received.bind(events, routing_key="issue.justified")
    publisher = await amqp.Publisher.open(rabbit)
    try:
        db = client[name]
        outbox = Outbox(db, "api_outbox", lambda: publisher, feed_before_republish(db))
        first, second = [
            Issue.model_validate(d)
            for d in await db.issues.find({"group_id": LEGACY}).sort("_id", 1).to_list(2)
        ]

        # The process dies after the justification, before the feed and the publish.
        done = justified_event(first, datetime.now(UTC))
        await store_event(outbox, _message(done, first.id))
        await justifications.justify(
            Store(db),
            first.id,
            Justification(by="a", reason="r", at=done.at, event_id=done.event_id),
        )
        # The process dies after storing the event, before the justification.
        never = justified_event(second, datetime.now(UTC))
        await store_event(outbox, _message(never, second.id))

        assert await outbox.republish(timedelta(0), PERIOD) == 1
        message = await received.get(timeout=10)
        await message.ack()
        assert Event.model_validate(json.loads(message.body)).event_id == done.event_id
        assert await db.events.find_one({"_id": done.event_id}) is not None  # in the feed
        assert await db.events.find_one({"_id": never.event_id}) is None
        assert [d["_id"] for d in await db.api_outbox.find().to_list()] == [never.event_id]

        # Long after, the justification it announces still does not exist: dropped, unsent.
        old = datetime.now(UTC) - ABANDON_AFTER - timedelta(seconds=1)
        await db.api_outbox.update_one({"_id": never.event_id}, {"$set": {"at": old}})
        await asyncio.sleep(PERIOD.total_seconds() + 0.1)  # the next republish period
        assert await outbox.republish(timedelta(0), PERIOD) == 0
        assert await outbox.pending() == 0
        with pytest.raises(QueueEmpty):
            await received.get(timeout=2)
        still = await db.issues.find_one({"_id": second.id})
        assert still is not None and still["status"] == "open"
    finally:
        await publisher.close()
        await channel.close()
        await client.close()
        await harness.drop(mongo_url, name)


def _message(event: Event, issue_id: str) -> Outgoing:
    return event_message(
        event, Requirement("issues", {"_id": issue_id, "justification.event_id": event.event_id})
    )
