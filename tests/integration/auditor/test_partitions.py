"""Auditor replicas share the snapshot partitions out, and take a dead one's over within
seconds: each partition is consumed by exactly one replica at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from secmonkey.auditor.partitions import PartitionClaims
from secmonkey.common import amqp
from secmonkey.common.messages import SNAPSHOTS_EXCHANGE
from secmonkey.common.storage import Database

pytestmark = pytest.mark.integration
PARTITIONS = 6
LEASE = 1.5


async def _rounds(replica: PartitionClaims) -> None:
    """What `run` does, without its graceful hand-over: cancelling it is a crash."""
    while True:
        await replica.renew()
        await replica.tick()
        await asyncio.sleep(LEASE / 3)


async def _ignore(message: AbstractIncomingMessage) -> None:
    await message.ack()


def _claims(
    db: Database, rabbit: AbstractRobustConnection, holder: str, unique: str
) -> PartitionClaims:
    base = amqp.QueueSpec(f"test.partitions.{unique}", SNAPSHOTS_EXCHANGE, (f"p{unique}.#",))

    def consumer(spec: amqp.QueueSpec, gate: Callable[[], bool]) -> amqp.Consumer:
        return amqp.Consumer(rabbit, spec, _ignore, gate=gate)

    return PartitionClaims(
        db,
        rabbit,
        amqp.auditor_queues(PARTITIONS, base),
        consumer,
        holder=holder,
        lease_seconds=LEASE,
    )


async def _settled(replicas: list[PartitionClaims], share: int, seconds: float = 90.0) -> None:
    for _ in range(int(seconds / 0.2)):
        held = [r.held for r in replicas]
        everything = set().union(*held)
        disjoint = sum(len(h) for h in held) == len(everything)
        complete = everything == set(range(PARTITIONS))
        if disjoint and complete and all(len(h) == share for h in held):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"partitions not shared out: {[sorted(r.held) for r in replicas]}")


async def test_three_replicas_share_the_partitions_and_two_take_over_a_dead_ones(
    db: Database, rabbit: AbstractRobustConnection, unique: str
) -> None:
    replicas = [_claims(db, rabbit, f"replica-{n}", unique) for n in range(3)]
    tasks = [asyncio.create_task(_rounds(r)) for r in replicas]
    try:
        await _settled(replicas, PARTITIONS // 3)
        # The broker agrees: each partition queue has exactly one consumer.
        channel = await rabbit.channel()
        for _, spec in amqp.auditor_queues(PARTITIONS, amqp.QueueSpec(f"test.partitions.{unique}")):
            queue = await channel.declare_queue(spec.name, passive=True)
            assert queue.declaration_result.consumer_count == 1, spec.name

        # Replica 0 dies: it stops renewing and its consumers go, its leases stay behind.
        tasks[0].cancel()
        dead = replicas[0]
        for consumer in list(dead.consuming.values()):
            await consumer.stop()
        dead.consuming.clear()
        await _settled(replicas[1:], PARTITIONS // 2)  # (how fast: bench/chaos, not here)
        for _, spec in amqp.auditor_queues(PARTITIONS, amqp.QueueSpec(f"test.partitions.{unique}")):
            queue = await channel.declare_queue(spec.name, passive=True)
            assert queue.declaration_result.consumer_count == 1, spec.name
            await channel.queue_delete(spec.name)
            await channel.queue_delete(spec.dead_letter_queue)
        await channel.close()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for replica in replicas[1:]:
            await replica.stop()


class _SlowWrites:
    """The real `auditor_leases` collection, each renewal write answered `delay` late (as
    FerretDB's are under load): the write itself goes to the database unchanged."""

    def __init__(self, collection: object, delay: float) -> None:
        self._collection = collection
        self.delay = delay

    def __getattr__(self, name: str) -> object:
        return getattr(self._collection, name)

    async def update_one(self, *args: object, **kwargs: object) -> object:
        await asyncio.sleep(self.delay)
        return await self._collection.update_one(*args, **kwargs)  # type: ignore[attr-defined]


async def test_a_slow_renewal_keeps_the_partitions(
    db: Database, rabbit: AbstractRobustConnection, unique: str
) -> None:
    """Renewal writes that take 35% of the term (longer than the renewal period): the
    replica renews on its fixed cadence and never lets a partition go."""
    term = 4.0
    replica = _claims(db, rabbit, "slow", unique)
    replica.lease_seconds = term
    for lease in replica.leases.values():
        lease.seconds = term
    run = asyncio.create_task(replica.run())
    try:
        for _ in range(300):
            if len(replica.held) == PARTITIONS:
                break
            await asyncio.sleep(0.1)
        assert replica.held == set(range(PARTITIONS))
        for lease in replica.leases.values():
            lease.leases = _SlowWrites(lease.leases, 0.35 * term)  # type: ignore[assignment]
        consumers = dict(replica.consuming)
        lapses = 0
        for _ in range(int(4 * term / 0.1)):  # four terms
            lapses += len(set(range(PARTITIONS)) - replica.held)
            await asyncio.sleep(0.1)
        assert replica.consuming == consumers  # no partition stopped and started again
        assert lapses == 0
        generations = {
            d["lease"]: d["generation"]
            for d in await db["auditor_leases"].find({"holder": "slow"}).to_list(None)
        }
        assert set(generations.values()) == {1}, generations  # never taken again
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
