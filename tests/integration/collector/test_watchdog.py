"""The monitor watches itself: stopped sweeps, growing dead letters and undelivered alerts,
stuck consumers each become one `system.*` event that people are told of; the heartbeat
tells someone outside that sweeps still complete."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from prometheus_client import REGISTRY

from secmonkey.collector.settings import Settings
from secmonkey.collector.simulate import EXTERNAL_ID, fill_estate, role_arn
from secmonkey.collector.watchdog import Watchdog
from secmonkey.common import amqp, consumer_reports
from secmonkey.common.documents import Account, Channel, Subscription, SubscriptionFilters
from secmonkey.common.errors import TransientError
from secmonkey.common.messages import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    Event,
    parse_message,
    utcnow,
)
from secmonkey.common.storage import Database
from secmonkey.notifier.service import Notifier, undelivered_queue
from tests.integration.collector.conftest import (
    SnapshotSink,
    add_accounts,
    ask_sweep,
    random_account_ids,
    running,
    sweeps_api,
)
from tests.integration.notifier.conftest import notifier_settings, until
from tests.support.servers import HttpReceiver, MotoServer

pytestmark = pytest.mark.integration


def with_(settings: Settings, **changes: Any) -> Settings:
    """The settings with `changes`, validated as the environment would be."""
    return Settings.model_validate({**settings.model_dump(), **changes})


async def system_events(db: Database, type_: str | None = None) -> list[Event]:
    query: dict[str, Any] = {"type": type_} if type_ else {"type": {"$regex": "^system\\."}}
    return [
        Event.model_validate({k: v for k, v in d.items() if k != "_id"})
        async for d in db.events.find(query).sort("at", 1)
    ]


@pytest_asyncio.fixture
async def published(rabbit: AbstractRobustConnection) -> AsyncIterator[list[tuple[str, Event]]]:
    """Every `system.*` event published on `secmonkey.events`: (routing key, event)."""
    got: list[tuple[str, Event]] = []
    channel = await rabbit.channel()
    exchanges = await amqp.declare_exchanges(channel)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchanges[EVENTS_EXCHANGE], routing_key="system.#")

    async def on_message(message: AbstractIncomingMessage) -> None:
        async with message.process():
            event = parse_message(Event, message.body)
            assert message.message_id == event.event_id
            got.append((message.routing_key or "", event))

    tag = await queue.consume(on_message)
    yield got
    await queue.cancel(tag)
    await channel.close()


async def test_a_stopped_sweep_raises_one_sweep_overdue_that_a_system_subscription_receives(
    settings: Settings,
    db: Database,
    rabbit: AbstractRobustConnection,
    moto: MotoServer,
    unique: str,
    http_receiver: HttpReceiver,
    sink: SnapshotSink,  # someone to take the snapshots
) -> None:
    healthy, stopped = random_account_ids(2)
    fill_estate(moto.url, [healthy], ["us-east-1"], groups_per_region=2, seed=3)
    await add_accounts(
        db,
        [
            Account(
                id=healthy,
                name="healthy",
                role_arn=role_arn(healthy),
                external_id=EXTERNAL_ID,
                regions=["us-east-1"],
            ),
            # No role to read it through: every sweep of it ends incomplete.
            Account(id=stopped, name="stopped", regions=["us-east-1"]),
        ],
    )
    ops = Subscription(
        id=uuid.uuid4().hex[:12],
        name="ops",
        filters=SubscriptionFilters(event_types=["system.*"]),
        channel=Channel(type="generic", url=f"{http_receiver.url}/hook", secret="s3cret"),
    )
    await db.subscriptions.insert_one(ops.to_mongo())
    heartbeat = HttpReceiver().start()
    settings = with_(
        settings,
        scheduler_enabled=True,
        sweep_interval_seconds=2.0,  # overdue after 6 s without a complete sweep
        scheduler_tick_seconds=0.2,
        scheduler_lease_seconds=3.0,
        watchdog_seconds=0.25,
        watchdog_queues=[settings.sweeps_queue],
        watchdog_undelivered_queues=[],
        heartbeat_url=f"{heartbeat.url}/ping/{unique}",
        heartbeat_min_seconds=0,
        webhook_allow_http=True,
        webhook_allow_private=True,
    )
    publisher = await amqp.Publisher.open(rabbit)
    spec = amqp.QueueSpec(f"test.notifier.{unique}", EVENTS_EXCHANGE, ("system.#",))
    notifier = Notifier(notifier_settings(db), db, rabbit, publisher, spec=spec)
    await notifier.start()
    try:
        async with running(settings):
            assert await until(lambda: http_receiver.received, timeout=40)
            await asyncio.sleep(3)  # a dozen more checks: still one event
        overdue = await system_events(db)
        assert [(e.type, e.account_id) for e in overdue] == [("system.sweep_overdue", stopped)]
        assert overdue[0].system is not None
        assert overdue[0].system.subject == f"account stopped ({stopped})"
        assert "no complete sweep since watching began" in overdue[0].system.detail
        [delivered] = http_receiver.received
        cloud = delivered.json()
        assert cloud["type"] == "io.secmonkey.system.sweep_overdue"
        assert cloud["id"] == overdue[0].event_id
        assert cloud["data"]["summary"] == f"HIGH: sweep overdue: account stopped ({stopped})"
        # The healthy account's complete sweeps each called the heartbeat.
        calls = [r for r in heartbeat.received if r.path == f"/ping/{unique}"]
        assert calls and {r.method for r in calls} == {"GET"}
        gauge = REGISTRY.get_sample_value("secmonkey_collector_heartbeats_total", {"outcome": "ok"})
        assert gauge is not None and gauge >= len(calls)
    finally:
        heartbeat.stop()
        await notifier.stop()
        await publisher.close()
        channel = await rabbit.channel()
        for name in (spec.name, spec.dead_letter_queue, undelivered_queue(spec)):
            await channel.queue_delete(name)
        await channel.close()


async def test_growing_dead_letters_and_undelivered_alerts_raise_once_and_resolve_once(
    settings: Settings,
    db: Database,
    rabbit: AbstractRobustConnection,
    unique: str,
    published: list[tuple[str, Event]],
) -> None:
    queue, undelivered = f"test.watched.{unique}", f"test.watched.{unique}.undelivered"
    settings = with_(
        settings,
        watchdog_queues=[queue],
        watchdog_undelivered_queues=[undelivered],
        watchdog_grace_seconds=1.0,
    )
    channel = await rabbit.channel()
    watched = await amqp.declare_queue(channel, amqp.QueueSpec(queue))

    async def take(message: AbstractIncomingMessage) -> None:
        await message.ack()

    await watched.consume(take)  # the queue has a consumer: only the parked messages grow here
    parked = await channel.declare_queue(
        undelivered, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await parked.bind(DEAD_LETTER_EXCHANGE, routing_key=undelivered)
    publisher = await amqp.Publisher.open(rabbit)
    watchdog = Watchdog(settings, db, publisher, rabbit)

    async def park(routing_key: str, count: int) -> None:
        for n in range(count):
            await publisher.publish(
                DEAD_LETTER_EXCHANGE, routing_key, json.dumps({"n": n}).encode()
            )

    # The test's own clock: a slow machine must not settle an episode between two looks.
    start = utcnow()

    async def look(at_seconds: float) -> list[Event]:
        return await watchdog.check(start + timedelta(seconds=at_seconds))

    try:
        assert await look(0) == []  # the first look takes the depths
        await park(queue, 2)  # routed to `<queue>.dead`
        await park(undelivered, 1)
        raised = await look(0.1)
        assert sorted(e.type for e in raised) == [
            "system.dead_letters_growing",
            "system.undelivered_growing",
        ]
        dead = next(e for e in raised if e.type == "system.dead_letters_growing")
        assert dead.key == f"system:queue:{queue}.dead" and dead.system is not None
        assert dead.system.detail.startswith("grew from 0 to 2 message(s)")
        await park(queue, 1)
        assert await look(0.2) == []  # still the same episode
        assert (
            REGISTRY.get_sample_value(
                "secmonkey_collector_watched_queue_messages", {"queue": f"{queue}.dead"}
            )
            == 3
        )
        assert (
            REGISTRY.get_sample_value(
                "secmonkey_collector_watchdog_conditions", {"condition": "dead_letters_growing"}
            )
            == 1
        )
        assert await look(0.3) == []  # not grown: settling
        resolved = await look(1.5)
        assert sorted(e.type for e in resolved) == [
            "system.dead_letters_growing_resolved",
            "system.undelivered_growing_resolved",
        ]
        assert await look(1.6) == []
        stored = await system_events(db)
        assert len(stored) == 4 and {e.event_id for e in stored} == {
            e.event_id for e in raised + resolved
        }
        assert await until(lambda: len(published) == 4)
        assert sorted(key for key, _ in published) == sorted(e.type for e in stored)
    finally:
        await publisher.close()
        for name in (queue, f"{queue}.dead", undelivered):
            await channel.queue_delete(name)
        await channel.close()


async def test_a_consumer_not_ready_for_the_grace_period_raises_one_event(
    settings: Settings,
    db: Database,
    rabbit: AbstractRobustConnection,
    unique: str,
    published: list[tuple[str, Event]],
) -> None:
    queue = f"test.watched.{unique}"
    settings = with_(
        settings,
        watchdog_queues=[queue],
        watchdog_undelivered_queues=[],
        watchdog_grace_seconds=1.0,
    )
    publisher = await amqp.Publisher.open(rabbit)
    channel = await rabbit.channel()
    await amqp.declare_queue(channel, amqp.QueueSpec(queue))
    watchdog = Watchdog(settings, db, publisher, rabbit)
    database_down = True

    async def handle(message: AbstractIncomingMessage) -> None:
        if database_down:
            raise TransientError("MongoDB unreachable")

    consumer = amqp.Consumer(rabbit, amqp.QueueSpec(queue), handle)
    try:
        # Nobody consumes the queue: raised once it has lasted the grace period.
        assert await watchdog.check() == []
        await asyncio.sleep(1.1)
        [absent] = await watchdog.check()
        assert absent.type == "system.consumer_not_ready" and absent.system is not None
        assert absent.system.detail == "no consumer is attached to the queue"
        await consumer.start()
        [back] = await watchdog.check()
        assert back.type == "system.consumer_not_ready_resolved"

        # A consumer that waits out a fault, as its process reports it.
        await publisher.publish("", queue, b"{}")
        assert await until(lambda: consumer.trouble is not None)
        await consumer_reports.report(db, "auditor-7", [consumer])  # what the runtime does
        assert await watchdog.check() == []  # not for long enough yet
        await asyncio.sleep(1.1)
        await consumer_reports.report(db, "auditor-7", [consumer])
        [stuck] = await watchdog.check()
        assert stuck.type == "system.consumer_not_ready" and stuck.system is not None
        assert stuck.system.detail.startswith("auditor-7: retrying a message of")
        assert stuck.event_id != absent.event_id  # a second episode
        assert await watchdog.check() == []

        database_down = False
        assert await until(lambda: consumer.trouble is None)
        await consumer_reports.report(db, "auditor-7", [consumer])
        [recovered] = await watchdog.check()
        assert recovered.type == "system.consumer_not_ready_resolved"
        assert len(await system_events(db)) == 4
        assert await until(lambda: len(published) == 4)
    finally:
        await consumer.stop()
        await publisher.close()
        for name in (queue, f"{queue}.dead"):
            await channel.queue_delete(name)
        await channel.close()


async def test_a_failing_heartbeat_never_holds_up_a_sweep(
    settings: Settings, db: Database, moto: MotoServer, sink: SnapshotSink
) -> None:
    account = random_account_ids(1)[0]
    fill_estate(moto.url, [account], ["us-east-1"], groups_per_region=2, seed=5)
    await add_accounts(
        db,
        [
            Account(
                id=account,
                name="a",
                role_arn=role_arn(account),
                external_id=EXTERNAL_ID,
                regions=["us-east-1"],
            )
        ],
    )
    silent = HttpReceiver()  # never started: its port accepts and never answers
    settings = with_(
        settings,
        heartbeat_url=f"{silent.url}/ping",
        heartbeat_timeout=1.0,
        heartbeat_min_seconds=0,
        webhook_allow_http=True,
        webhook_allow_private=True,
    )
    before = REGISTRY.get_sample_value(
        "secmonkey_collector_heartbeats_total", {"outcome": "failed"}
    )
    try:
        async with running(settings), sweeps_api(settings) as api:
            sweep_id = await ask_sweep(api, [account])
            loop = asyncio.get_running_loop()
            started = loop.time()
            status: dict[str, Any] = {}
            while status.get("status") not in ("complete", "incomplete", "failed"):
                await asyncio.sleep(0.05)
                status = (await api.get(f"/api/v1/sweeps/{sweep_id}")).json()
            assert status["status"] == "complete"
            assert loop.time() - started < 10
            after = lambda: REGISTRY.get_sample_value(  # noqa: E731
                "secmonkey_collector_heartbeats_total", {"outcome": "failed"}
            )
            assert await until(lambda: (after() or 0) > (before or 0), timeout=5)
    finally:
        silent._server.server_close()
