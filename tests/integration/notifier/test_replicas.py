"""What survives a restart and is shared between replicas: the outbox, claims, digest windows."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import aio_pika
import pytest

from secmonkey.common import amqp
from secmonkey.common.delivery_schedule import entry_doc, new_delivery
from secmonkey.common.documents import Channel
from secmonkey.common.messages import EVENTS_EXCHANGE, utcnow
from secmonkey.common.storage import Database
from secmonkey.common.storage.group_commit import GroupCommit
from secmonkey.notifier.deliveries import DeliveryStore
from secmonkey.notifier.service import channel_gone
from tests.integration.notifier.conftest import make_event, subscription, until
from tests.support.servers import HttpReceiver

pytestmark = pytest.mark.integration


async def test_an_event_redelivered_after_its_delivery_is_not_sent_again(
    start_notifier: Any, http_receiver: HttpReceiver
) -> None:
    """RabbitMQ redelivers an event whose ack was lost: the alert is not sent twice."""
    sub = subscription(Channel(type="generic", url=f"{http_receiver.url}/h", secret="k"))
    event = make_event()
    async with start_notifier([sub]) as h:
        await h.publish(event)
        assert await until(lambda: http_receiver.received)
        assert await until(lambda: _outbox_empty(h.db))
        await h.notifier.process(event, redelivered=True)  # what the consumer does with it
        other = make_event()
        await h.publish(other)
        assert await until(lambda: len(http_receiver.received) >= 2)
        await asyncio.sleep(0.3)
    assert [r.json()["id"] for r in http_receiver.received] == [event.event_id, other.event_id]


async def test_an_event_an_outbox_publishes_again_after_its_delivery_is_not_sent_again(
    start_notifier: Any, http_receiver: HttpReceiver
) -> None:
    """A publisher whose confirm was lost (a RabbitMQ node went away) publishes the event
    again from its outbox, as a new message marked republished: one alert, not two."""
    sub = subscription(Channel(type="generic", url=f"{http_receiver.url}/h", secret="k"))
    event = make_event()
    async with start_notifier([sub]) as h:
        await h.publish(event)
        assert await until(lambda: http_receiver.received)
        assert await until(lambda: _outbox_empty(h.db))
        await h.publisher.publish_many(
            EVENTS_EXCHANGE,
            [(f"{event.type}.{h.unique}", event, event.event_id)],
            headers={amqp.REPUBLISHED_HEADER: True},
        )
        other = make_event()
        await h.publish(other)
        assert await until(lambda: len(http_receiver.received) >= 2)
        await asyncio.sleep(0.5)
    assert [r.json()["id"] for r in http_receiver.received] == [event.event_id, other.event_id]


async def test_the_same_event_twice_while_pending_is_sent_once(start_notifier: Any) -> None:
    """A re-published event whose first delivery is still pending adds no second one."""
    release = threading.Event()
    receiver = HttpReceiver(lambda n, r: (release.wait(10), (200, {}))[1]).start()
    sub = subscription(Channel(type="generic", url=f"{receiver.url}/h", secret="k"))
    event = make_event()
    try:
        async with start_notifier([sub]) as h:
            await h.notifier.process(event)
            await h.notifier.process(event)
            release.set()
            assert await until(lambda: _outbox_empty(h.db))
            await asyncio.sleep(0.3)
    finally:
        release.set()
        receiver.stop()
    assert [r.json()["id"] for r in receiver.received] == [event.event_id]


async def test_a_delivery_left_by_a_dead_replica_is_made_by_another(
    start_notifier: Any, http_receiver: HttpReceiver, db: Database
) -> None:
    """An outbox entry whose lease ran out (its claimant died) is picked up and delivered."""
    sub = subscription(Channel(type="generic", url=f"{http_receiver.url}/h", secret="k"))
    event = make_event()
    orphan = new_delivery(
        f"{event.event_id}:{sub.id}",
        sub,
        [event],
        utcnow() - timedelta(minutes=2),
        kind="event",
        due_at=utcnow() - timedelta(seconds=1),
        summary="an orphan",
    )
    await db.delivery_schedule.insert_one(entry_doc(orphan))
    async with start_notifier([sub]) as h:
        assert await until(lambda: http_receiver.received)
        assert await until(lambda: _outbox_empty(h.db))
        [record] = await h.deliveries()
    assert http_receiver.received[0].json()["id"] == event.event_id
    assert record["status"] == "delivered" and record["attempt_count"] == 1


async def test_two_replicas_never_claim_the_same_delivery(db: Database) -> None:
    writes = GroupCommit(db)
    writes.start()
    try:
        store = DeliveryStore(db, writes)
        sub = subscription(Channel(type="generic", url="https://hooks.example.com/h", secret="k"))
        now = utcnow()
        deliveries = [
            new_delivery(f"d{i}", sub, [make_event()], now, kind="event", due_at=now, summary="")
            for i in range(10)
        ]
        assert len(await store.insert_new(deliveries)) == 10
        assert await store.insert_new(deliveries) == []  # already queued
        claims = await asyncio.gather(
            *(store.claim(d.id, utcnow(), 30) for d in deliveries for _ in range(2))
        )
    finally:
        await writes.stop()
    won = [c.id for c in claims if c is not None]
    assert sorted(won) == sorted(d.id for d in deliveries)


async def test_two_replicas_share_digest_windows_and_send_each_event_once(
    start_notifier: Any, http_receiver: HttpReceiver
) -> None:
    """Two notifiers on one queue hold events in the same windows; each event is sent once."""
    sub = subscription(
        Channel(type="generic", url=f"{http_receiver.url}/d", secret="k"), mode="digest"
    )
    events = [make_event(group_id=f"sg-{i}") for i in range(30)]
    async with (
        start_notifier([sub], digest_window_seconds=1.0) as first,
        start_notifier([], digest_window_seconds=1.0) as second,
    ):
        await first.publish(*events)
        assert await until(lambda: _listed(http_receiver) >= 30)
        assert await until(lambda: _outbox_empty(first.db))
        await asyncio.sleep(1.5)  # a window more: nothing else may arrive
        consumed = {n.consumer.spec.name for n in (first.notifier, second.notifier)}
    assert len(consumed) == 1  # the same queue: competing consumers
    listed = [e["event_id"] for r in http_receiver.received for e in r.json()["data"]["events"]]
    assert sorted(listed) == sorted(e.event_id for e in events)


def _listed(receiver: HttpReceiver) -> int:
    return sum(r.json()["data"]["count"] for r in receiver.received)


async def _outbox_empty(db: Database) -> bool:
    return await db.delivery_schedule.count_documents({}) == 0


async def test_a_redelivered_event_finished_elsewhere_meanwhile_is_not_queued_again(
    db: Database,
) -> None:
    """Another replica recorded the outcome and removed its outbox entry (in that order)
    while a redelivered copy was being queued: the copy is dropped, and leaves no entry."""
    writes = GroupCommit(db)
    writes.start()
    try:
        store = DeliveryStore(db, writes)
        sub = subscription(Channel(type="generic", url="https://hooks.example.com/h", secret="k"))
        now = utcnow()
        made, fresh = (
            new_delivery(f"d{i}", sub, [make_event()], now, kind="event", due_at=now, summary="")
            for i in range(2)
        )
        # `made` was delivered elsewhere: its record is in, its outbox entry already gone.
        await db.deliveries.insert_one({"_id": made.id, "status": "delivered"})
        queued = await store.insert_new([made, fresh], redelivered=True)
    finally:
        await writes.stop()
    assert [d.id for d in queued] == [fresh.id]
    assert await db.delivery_schedule.find_one({"_id": made.id}) is None
    assert await db.delivery_schedule.find_one({"_id": fresh.id}) is not None


async def test_a_message_whose_channel_closed_counts_as_redelivered(rabbit: Any) -> None:
    """Its ack can no longer reach the broker, which will deliver it again: the notifier
    treats the copy in hand as a redelivery (queued first, then sent)."""
    channel = await rabbit.channel()
    queue = await channel.declare_queue(exclusive=True)
    await channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=queue.name)
    message = await queue.get(timeout=10)
    assert not channel_gone(message)
    await channel.close()
    assert channel_gone(message)
