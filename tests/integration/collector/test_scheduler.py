"""The schedule: one lease holder, due accounts requested once per interval."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aio_pika.abc import AbstractRobustConnection

from secmonkey.collector.scheduler import Lease, Scheduler
from secmonkey.collector.settings import Settings
from secmonkey.common import amqp
from secmonkey.common.documents import Account
from secmonkey.common.messages import SweepRequest, parse_message, utcnow
from secmonkey.common.storage import Database
from tests.integration.collector.conftest import add_accounts, random_account_ids

pytestmark = pytest.mark.integration


async def test_one_holder_at_a_time_expiry_hands_over_and_release_is_immediate(
    db: Database,
) -> None:
    first = Lease(db, "test-lease", "first", seconds=2.0)
    second = Lease(db, "test-lease", "second", seconds=2.0)
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.acquire()  # renewing keeps it
    assert first.held and not second.held

    await asyncio.sleep(2.2)  # the first stops renewing: its lease runs out
    assert not first.held
    assert await second.acquire()
    assert not await first.acquire()
    current = await second.current()
    assert current is not None and current["holder"] == "second" and current["generation"] == 2

    await second.release()
    assert await first.acquire()


async def test_of_many_replicas_racing_for_a_free_lease_exactly_one_wins(db: Database) -> None:
    # FerretDB does not isolate conditional updates; the lease must not rely on them.
    for round_ in range(3):
        leases = [Lease(db, f"race-{round_}", f"r{n}", seconds=30) for n in range(8)]
        won = await asyncio.gather(*(lease.acquire() for lease in leases))
        assert sum(won) == 1
        winner = leases[won.index(True)]
        current = await winner.current()
        assert current is not None and current["holder"] == winner.holder
        assert [lease.held for lease in leases] == won


async def _queued(rabbit: AbstractRobustConnection, queue: str) -> list[SweepRequest]:
    channel = await rabbit.channel()
    q = await channel.get_queue(queue)
    got = []
    while (message := await q.get(no_ack=True, fail=False)) is not None:
        got.append(parse_message(SweepRequest, message.body))
    await channel.close()
    return got


async def test_due_accounts_are_requested_once_per_interval_and_disabled_ones_never(
    settings: Settings, db: Database, rabbit: AbstractRobustConnection
) -> None:
    often, rarely, disabled, trusted = random_account_ids(4)
    await add_accounts(
        db,
        [
            Account(id=often, name="often"),
            Account(id=rarely, name="rarely", interval_minutes=60),
            Account(id=disabled, name="disabled", enabled=False),
            Account(id=trusted, name="partner", trusted=True),
        ],
    )
    # Long enough that a slow first round (several writes and a confirmed publish on a
    # loaded 2-core machine) cannot make the account due again before the second call.
    settings = settings.model_copy(update={"sweep_interval_seconds": 4.0})
    channel = await rabbit.channel()
    await amqp.declare_queue(channel, amqp.QueueSpec(settings.sweeps_queue))
    await channel.close()
    publisher = await amqp.Publisher.open(rabbit)
    scheduler = Scheduler(settings, db, publisher)
    try:
        assert await scheduler.lease.acquire()
        first = await scheduler.schedule_due()
        assert first is not None
        assert await scheduler.schedule_due() is None  # nothing is due again at once
        await asyncio.sleep(4.2)
        second = await scheduler.schedule_due()
    finally:
        await publisher.close()

    queued = await _queued(rabbit, settings.sweeps_queue)
    assert sorted((r.sweep_id, r.account_id) for r in queued) == sorted(
        [(first, often), (first, rarely), (second, often)]
    )
    assert all(r.reason == "scheduled" for r in queued)
    header = await db.sweeps.find_one({"_id": first})
    assert header is not None and header["requested_by"] == settings.replica_id
    rarely_state = await db.schedules.find_one({"_id": rarely})
    assert rarely_state is not None
    assert rarely_state["next_due"] - rarely_state["last_scheduled_at"] == timedelta(minutes=60)


async def test_a_scheduled_sweep_the_broker_did_not_take_waits_in_the_outbox_and_is_sent(
    settings: Settings, db: Database, rabbit: AbstractRobustConnection
) -> None:
    (account,) = random_account_ids(1)
    await add_accounts(db, [Account(id=account, name="a")])
    channel = await rabbit.channel()
    await amqp.declare_queue(channel, amqp.QueueSpec(settings.sweeps_queue))
    await channel.close()
    gone = await amqp.Publisher.open(rabbit)
    await gone.close()  # the broker does not take what this one publishes
    scheduler = Scheduler(settings, db, gone)
    assert await scheduler.lease.acquire()
    sweep_id = await scheduler.schedule_due()
    assert sweep_id is not None
    assert await scheduler.outbox.pending() == 1
    assert await _queued(rabbit, settings.sweeps_queue) == []
    header = await db.sweeps.find_one({"_id": sweep_id})
    assert header is not None and header["account_ids"] == [account]

    working = await amqp.Publisher.open(rabbit)
    scheduler.publisher = working  # the broker is back
    try:
        assert await scheduler.outbox.republish(timedelta(0), timedelta(seconds=1)) == 1
    finally:
        await working.close()
    assert await scheduler.outbox.pending() == 0
    queued = await _queued(rabbit, settings.sweeps_queue)
    assert [(r.sweep_id, r.account_id) for r in queued] == [(sweep_id, account)]


async def test_a_replica_without_the_lease_schedules_nothing(
    settings: Settings, db: Database, rabbit: AbstractRobustConnection
) -> None:
    (account,) = random_account_ids(1)
    await add_accounts(db, [Account(id=account, name="a")])
    holder = Lease(db, "collector-scheduler", "someone-else", seconds=30)
    assert await holder.acquire()
    publisher = await amqp.Publisher.open(rabbit)
    scheduler = Scheduler(settings, db, publisher)
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await publisher.close()
    assert not scheduler.lease.held
    assert await db.sweeps.count_documents({}) == 0
    assert await db.schedules.count_documents({}) == 0


async def test_old_sweep_status_is_pruned_and_recent_status_kept(
    settings: Settings, db: Database, rabbit: AbstractRobustConnection
) -> None:
    now = utcnow()
    await db.sweeps.insert_many(
        [
            {
                "_id": "old",
                "kind": "sweep",
                "sweep_id": "old",
                "started_at": now - timedelta(days=8),
            },
            {
                "_id": "old:1",
                "kind": "account",
                "sweep_id": "old",
                "started_at": now - timedelta(days=8),
            },
            {
                "_id": "new",
                "kind": "sweep",
                "sweep_id": "new",
                "started_at": now - timedelta(days=1),
            },
        ]
    )
    publisher = await amqp.Publisher.open(rabbit)
    try:
        assert await Scheduler(settings, db, publisher).prune() == 2
    finally:
        await publisher.close()
    assert [d["_id"] for d in await db.sweeps.find().to_list(None)] == ["new"]
