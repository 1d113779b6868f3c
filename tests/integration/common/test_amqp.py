"""The RabbitMQ plumbing every service relies on, against the real broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aio_pika
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from secmonkey.common import amqp
from secmonkey.common.canonical import CanonicalGroup, GroupSnapshot
from secmonkey.common.messages import SNAPSHOTS_EXCHANGE, SnapshotBatch, parse_snapshot_message

pytestmark = pytest.mark.integration


def batch(n: int) -> SnapshotBatch:
    groups = [
        GroupSnapshot.of(CanonicalGroup(group_id=f"sg-{i}", name=f"g{i}", owner_id="111111111111"))
        for i in range(3)
    ]
    return SnapshotBatch(
        sweep_id=f"sweep-{n}",
        account_id="111111111111",
        region="us-east-1",
        observed_at=datetime.now(UTC),
        groups=groups,
    )


@pytest_asyncio.fixture
async def spec(rabbit: AbstractRobustConnection, unique: str) -> AsyncIterator[amqp.QueueSpec]:
    """A throwaway consumer queue bound to the snapshots exchange on a unique routing key."""
    spec = amqp.QueueSpec(f"test.{unique}", SNAPSHOTS_EXCHANGE, (f"aws.{unique}.#",))
    yield spec
    channel = await rabbit.channel()
    await channel.queue_delete(spec.name)
    await channel.queue_delete(spec.dead_letter_queue)
    await channel.close()


async def _drain(
    rabbit: AbstractRobustConnection, queue: str, timeout: float = 5.0
) -> list[AbstractIncomingMessage]:
    channel = await rabbit.channel()
    q = await channel.get_queue(queue)
    got: list[AbstractIncomingMessage] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        msg = await q.get(no_ack=True, fail=False)
        if msg is None:
            if got:
                break
            await asyncio.sleep(0.1)
            continue
        got.append(msg)
    await channel.close()
    return got


async def test_batch_published_with_confirms_is_consumed_and_acked_once(
    rabbit: AbstractRobustConnection, spec: amqp.QueueSpec, unique: str
) -> None:
    received: list[SnapshotBatch] = []
    done = asyncio.Event()

    async def handle(message: AbstractIncomingMessage) -> None:
        parsed = parse_snapshot_message(message.body)
        assert isinstance(parsed, SnapshotBatch)
        received.append(parsed)
        if len(received) == 50:
            done.set()

    consumer = amqp.Consumer(rabbit, spec, handle, prefetch=10)
    await consumer.start()
    publisher = await amqp.Publisher.open(rabbit)
    await publisher.publish_many(
        SNAPSHOTS_EXCHANGE, [(f"aws.{unique}.us-east-1", batch(i), None) for i in range(50)]
    )
    await asyncio.wait_for(done.wait(), 10)
    await asyncio.sleep(0.5)  # anything redelivered would show up now
    await consumer.stop()
    await publisher.close()
    assert sorted(b.sweep_id for b in received) == sorted(f"sweep-{i}" for i in range(50))
    channel = await rabbit.channel()
    declared = await channel.declare_queue(spec.name, passive=True)
    assert declared.declaration_result.message_count == 0
    await channel.close()


async def test_malformed_message_is_dead_lettered_with_reason_and_the_next_is_processed(
    rabbit: AbstractRobustConnection, spec: amqp.QueueSpec, unique: str
) -> None:
    good: list[str] = []
    got_good = asyncio.Event()

    async def handle(message: AbstractIncomingMessage) -> None:
        parsed = parse_snapshot_message(message.body)
        good.append(parsed.sweep_id)
        got_good.set()

    consumer = amqp.Consumer(rabbit, spec, handle)
    await consumer.start()
    publisher = await amqp.Publisher.open(rabbit)
    await publisher.publish(
        SNAPSHOTS_EXCHANGE, f"aws.{unique}.x", b'{"kind": "snapshot_batch", "groups": 7}'
    )
    await publisher.publish(SNAPSHOTS_EXCHANGE, f"aws.{unique}.x", batch(1))
    await asyncio.wait_for(got_good.wait(), 10)
    dead = await _drain(rabbit, spec.dead_letter_queue)
    await consumer.stop()
    await publisher.close()
    assert good == ["sweep-1"]
    assert len(dead) == 1
    reason = str(dead[0].headers[amqp.REASON_HEADER])
    assert "malformed message" in reason and "sweep_id" in reason
    assert dead[0].body == b'{"kind": "snapshot_batch", "groups": 7}'


async def test_consumer_that_crashes_before_acking_gets_the_message_again(
    amqp_url: str, rabbit: AbstractRobustConnection, spec: amqp.QueueSpec, unique: str
) -> None:
    # First consumer takes the message and dies (its connection drops) without acking.
    doomed = await amqp.connect(amqp_url)
    taken = asyncio.Event()

    async def crash(message: AbstractIncomingMessage) -> None:
        taken.set()
        await asyncio.sleep(3600)

    first = amqp.Consumer(doomed, spec, crash)
    await first.start()
    publisher = await amqp.Publisher.open(rabbit)
    await publisher.publish(SNAPSHOTS_EXCHANGE, f"aws.{unique}.x", batch(7))
    await asyncio.wait_for(taken.wait(), 10)
    await doomed.close()

    again: list[tuple[str, bool]] = []
    got = asyncio.Event()

    async def handle(message: AbstractIncomingMessage) -> None:
        again.append((parse_snapshot_message(message.body).sweep_id, message.redelivered or False))
        got.set()

    second = amqp.Consumer(rabbit, spec, handle)
    await second.start()
    await asyncio.wait_for(got.wait(), 10)
    await second.stop()
    await publisher.close()
    assert again == [("sweep-7", True)]


async def test_a_message_that_keeps_crashing_is_dead_lettered_with_its_exception(
    rabbit: AbstractRobustConnection, unique: str
) -> None:
    spec = amqp.QueueSpec(
        f"test.{unique}", SNAPSHOTS_EXCHANGE, (f"aws.{unique}.#",), delivery_limit=2
    )
    attempts = 0

    async def always_fails(message: AbstractIncomingMessage) -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("bug in the handler")

    retry = amqp.RetryPolicy(base_delay=0.01, handler_failures=3)
    consumer = amqp.Consumer(rabbit, spec, always_fails, retry=retry)
    await consumer.start()
    publisher = await amqp.Publisher.open(rabbit)
    await publisher.publish(SNAPSHOTS_EXCHANGE, f"aws.{unique}.x", batch(3))
    dead = await _drain(rabbit, spec.dead_letter_queue, timeout=15)
    await consumer.stop()
    await publisher.close()
    channel = await rabbit.channel()
    await channel.queue_delete(spec.name)
    await channel.queue_delete(spec.dead_letter_queue)
    await channel.close()
    assert len(dead) == 1
    assert attempts == 3  # the first delivery plus two redeliveries, then never again
    assert parse_snapshot_message(dead[0].body).sweep_id == "sweep-3"
    reason = str(dead[0].headers[amqp.REASON_HEADER])
    assert "failed 3 times" in reason and "RuntimeError: bug in the handler" in reason


async def test_unroutable_publish_is_an_error_not_a_silent_loss(
    rabbit: AbstractRobustConnection, unique: str
) -> None:
    publisher = await amqp.Publisher.open(rabbit)
    with pytest.raises(aio_pika.exceptions.DeliveryError):
        await publisher.publish(SNAPSHOTS_EXCHANGE, f"nobody.listens.{unique}", batch(1))
    await publisher.close()


async def test_a_queue_made_by_an_earlier_release_keeps_working_after_an_upgrade(
    rabbit: AbstractRobustConnection, unique: str
) -> None:
    """Queues declared before at-least-once dead-lettering have other arguments; RabbitMQ
    refuses a declaration that differs, so a consumer must use them as they are."""
    spec = amqp.QueueSpec(f"test.{unique}", SNAPSHOTS_EXCHANGE, (f"aws.{unique}.#",))
    channel = await rabbit.channel()
    await channel.declare_queue(
        spec.name,
        durable=True,
        arguments={"x-queue-type": "quorum", "x-delivery-limit": spec.delivery_limit},
    )
    got = asyncio.Event()

    async def handle(message: AbstractIncomingMessage) -> None:
        got.set()

    consumer = amqp.Consumer(rabbit, spec, handle)
    await consumer.start()
    publisher = await amqp.Publisher.open(rabbit)
    await publisher.publish(SNAPSHOTS_EXCHANGE, f"aws.{unique}.x", batch(1))
    await asyncio.wait_for(got.wait(), 10)
    await consumer.stop()
    await publisher.close()
    await channel.queue_delete(spec.name)
    await channel.queue_delete(spec.dead_letter_queue)
    await channel.close()
