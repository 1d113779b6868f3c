"""The auditor on real RabbitMQ: consume, publish events, dead-letter what cannot be read."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import AsyncIterator

import aio_pika
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from pymongo.errors import AutoReconnect

from secmonkey.auditor.app import maintenance
from secmonkey.auditor.consumer import SnapshotHandler, queue_spec, start_consumer
from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common import amqp
from secmonkey.common.messages import EVENTS_EXCHANGE, SNAPSHOTS_EXCHANGE, Event, parse_message
from secmonkey.common.storage import Database
from tests.integration.auditor.kit import PUBLIC, REGION, at, batch, ingress, key, snap

pytestmark = pytest.mark.integration


@pytest.fixture
def account() -> str:
    """A fresh account id, so that events of other tests on the shared exchange are told apart."""
    return str(random.randint(200000000000, 999999999999))


@pytest_asyncio.fixture
async def spec(
    rabbit: AbstractRobustConnection, unique: str, account: str
) -> AsyncIterator[amqp.QueueSpec]:
    spec = queue_spec(f"test.auditor.{unique}", [f"aws.{account}.#"])
    yield spec
    channel = await rabbit.channel()
    await channel.queue_delete(spec.name)
    await channel.queue_delete(spec.dead_letter_queue)
    await channel.close()


@pytest_asyncio.fixture
async def events_queue(
    rabbit: AbstractRobustConnection, unique: str
) -> AsyncIterator[AbstractQueue]:
    """A throwaway queue on secmonkey.events, as a notifier would bind one."""
    channel = await rabbit.channel()
    exchanges = await amqp.declare_exchanges(channel)
    queue = await channel.declare_queue(f"test.auditor.events.{unique}", exclusive=True)
    for routing_key in ("group.*", "issue.*"):
        await queue.bind(exchanges[EVENTS_EXCHANGE], routing_key=routing_key)
    yield queue
    await channel.close()


async def collect(
    queue: AbstractQueue, account: str, count: int, timeout: float = 20
) -> list[AbstractIncomingMessage]:
    got: list[AbstractIncomingMessage] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(got) < count and asyncio.get_running_loop().time() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.1)
        elif f'"account_id":"{account}"' in message.body.decode():
            got.append(message)
    return got


def snapshot_message(body: bytes) -> aio_pika.Message:
    return aio_pika.Message(
        body, content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT
    )


async def test_snapshots_in_events_out(
    db: Database,
    rabbit: AbstractRobustConnection,
    spec: amqp.QueueSpec,
    events_queue: AbstractQueue,
    account: str,
) -> None:
    publisher = await amqp.Publisher.open(rabbit)
    auditor = Auditor(db, RulesConfig(), publisher)
    consumer = await start_consumer(rabbit, auditor, spec, prefetch=4)
    try:
        message = batch(0, snap("sg-a", ingress(22, "0.0.0.0/0"), account=account), account=account)
        await publisher.publish(SNAPSHOTS_EXCHANGE, f"aws.{account}.{REGION}", message)
        got = await collect(events_queue, account, 2)
    finally:
        await consumer.stop()
        await publisher.close()
    assert sorted(m.routing_key or "" for m in got) == ["group.created", "issue.opened"]
    stored = {d["_id"]: d for d in await db.events.find({"account_id": account}).to_list(None)}
    assert {m.message_id for m in got} == set(stored)
    assert await db.outbox.count_documents({}) == 0  # everything published was crossed off
    assert (await db.items.find_one({"_id": key("sg-a", account)}))["seq"] == 1


async def test_a_severity_rise_is_published_as_an_escalation(
    db: Database,
    rabbit: AbstractRobustConnection,
    spec: amqp.QueueSpec,
    events_queue: AbstractQueue,
    account: str,
) -> None:
    publisher = await amqp.Publisher.open(rabbit)
    auditor = Auditor(db, RulesConfig(), publisher)
    consumer = await start_consumer(rabbit, auditor, spec, prefetch=4)
    ssh = ingress(22, "0.0.0.0/0")
    routing_key = f"aws.{account}.{REGION}"
    try:
        first = batch(0, snap("sg-a", ssh, account=account), account=account)
        await publisher.publish(SNAPSHOTS_EXCHANGE, routing_key, first)
        assert len(await collect(events_queue, account, 2)) == 2
        exposed = snap("sg-a", ssh, attachments=PUBLIC, account=account)
        await publisher.publish(
            SNAPSHOTS_EXCHANGE, routing_key, batch(60, exposed, account=account)
        )
        got = await collect(events_queue, account, 1)
    finally:
        await consumer.stop()
        await publisher.close()
    assert [m.routing_key for m in got] == ["issue.escalated"]
    event = parse_message(Event, got[0].body)
    assert event.issue is not None
    assert (event.issue.severity, event.issue.previous_severity, event.issue.status) == (
        "critical",
        "high",
        "open",
    )


async def test_unreadable_messages_are_dead_lettered_and_the_queue_moves_on(
    db: Database, rabbit: AbstractRobustConnection, spec: amqp.QueueSpec, account: str
) -> None:
    auditor = Auditor(db, RulesConfig())
    consumer = await start_consumer(rabbit, auditor, spec, prefetch=4)
    channel = await rabbit.channel()
    exchange = await channel.get_exchange(SNAPSHOTS_EXCHANGE)
    routing_key = f"aws.{account}.{REGION}"
    try:
        await exchange.publish(snapshot_message(b"{not json"), routing_key=routing_key)
        bad_region = batch(0, snap("sg-x", account=account), account=account).model_dump_json()
        await exchange.publish(
            snapshot_message(bad_region.replace(REGION, "mars-north-9x").encode()),
            routing_key=routing_key,
        )
        good = batch(0, snap("sg-a", account=account), account=account)
        await exchange.publish(snapshot_message(amqp.encode(good)), routing_key=routing_key)
        dead = await channel.get_queue(spec.dead_letter_queue)
        letters: list[AbstractIncomingMessage] = []
        for _ in range(100):
            message = await dead.get(no_ack=True, fail=False)
            if message is not None:
                letters.append(message)
            if len(letters) == 2 and await db.items.find_one({"_id": key("sg-a", account)}):
                break
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()
        await channel.close()
    reasons = [str((m.headers or {}).get(amqp.REASON_HEADER)) for m in letters]
    assert len(reasons) == 2 and all(r.startswith("malformed message") for r in reasons)
    assert any("region" in r for r in reasons)
    assert await db.items.find_one({"_id": key("sg-a", account)}) is not None
    assert await db.items.find_one({"_id": key("sg-x", account)}) is None


class FlakyAuditor(Auditor):
    """An auditor whose database is unreachable for its first attempts."""

    failures = 25

    async def handle(self, message):  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise AutoReconnect("connection refused (injected)")
        return await super().handle(message)


async def test_an_outage_longer_than_every_delivery_limit_spends_no_delivery(
    db: Database, rabbit: AbstractRobustConnection, spec: amqp.QueueSpec, account: str
) -> None:
    """25 failed attempts against a delivery limit of 2: the message stays with the
    consumer, is never dead-lettered, and is applied once the database is back."""
    spec = dataclasses.replace(spec, name=f"{spec.name}.limited", delivery_limit=2)
    auditor = FlakyAuditor(db, RulesConfig())
    retry = amqp.RetryPolicy(base_delay=0.01, max_delay=0.02)
    consumer = amqp.Consumer(rabbit, spec, SnapshotHandler(auditor), prefetch=1, retry=retry)
    troubles: list[str] = []
    await consumer.start()
    publisher = await amqp.Publisher.open(rabbit)
    try:
        message = batch(0, snap("sg-a", account=account), account=account)
        await publisher.publish(SNAPSHOTS_EXCHANGE, f"aws.{account}.{REGION}", message)
        for _ in range(200):
            if consumer.trouble:
                troubles.append(consumer.trouble)
            # The item is the commit point; the message is done (and the trouble cleared)
            # once its handling returns.
            stored = await db.items.find_one({"_id": key("sg-a", account)})
            if stored and consumer.trouble is None:
                break
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()
        await publisher.close()
    assert auditor.failures == 0
    assert await db.items.find_one({"_id": key("sg-a", account)}) is not None
    assert troubles and "connection refused" in troubles[0]  # what readiness reports
    assert consumer.trouble is None
    channel = await rabbit.channel()
    dead = await channel.declare_queue(spec.dead_letter_queue, passive=True)
    assert dead.declaration_result.message_count == 0
    await channel.queue_delete(spec.name)
    await channel.queue_delete(spec.dead_letter_queue)
    await channel.close()


async def test_events_left_in_the_outbox_are_published_later(
    db: Database, rabbit: AbstractRobustConnection, events_queue: AbstractQueue, account: str
) -> None:
    """A run stopped between storing its events and publishing them: maintenance sends them."""
    stored = await Auditor(db, RulesConfig()).handle(
        batch(0, snap("sg-a", account=account), account=account)
    )
    await db.outbox.insert_one({"_id": stored[0].event_id, "at": at(0)})
    publisher = await amqp.Publisher.open(rabbit)
    try:
        sent = await Auditor(db, RulesConfig(), publisher).republish_outbox()
        got = await collect(events_queue, account, 1)
    finally:
        await publisher.close()
    assert sent == 1
    assert [(m.routing_key, m.message_id) for m in got] == [("group.created", stored[0].event_id)]
    assert await db.outbox.count_documents({}) == 0


async def test_the_maintenance_task_republishes_and_expires(
    db: Database, rabbit: AbstractRobustConnection, events_queue: AbstractQueue, account: str
) -> None:
    ssh = ingress(22, "0.0.0.0/0")
    stored = await Auditor(db, RulesConfig()).handle(
        batch(0, snap("sg-a", ssh, account=account), account=account)
    )
    issue = next(e.issue for e in stored if e.issue)
    await db.outbox.insert_one({"_id": stored[0].event_id, "at": at(0)})
    await db.issues.update_one(
        {"_id": issue.issue_id},
        {
            "$set": {
                "status": "justified",
                "justification": {"by": "a", "reason": "b", "until": at(10), "at": at(5)},
            }
        },
    )
    publisher = await amqp.Publisher.open(rabbit)
    task = asyncio.create_task(maintenance(Auditor(db, RulesConfig(), publisher), 0.05, 0.1))
    try:
        got = await collect(events_queue, account, 2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await publisher.close()
    assert sorted(m.routing_key or "" for m in got) == ["group.created", "issue.opened"]
    assert (await db.issues.find_one({"_id": issue.issue_id}))["status"] == "open"
