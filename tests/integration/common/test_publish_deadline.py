"""A broker that stops reading (a memory or disk alarm) must not hang a publisher: the
publish fails within its deadline, and the alarm shows in readiness and metrics. The alarm
is played by a proxy in front of the session's broker (tests/support/amqp_proxy.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection
from prometheus_client import REGISTRY, generate_latest

from secmonkey.common import amqp
from secmonkey.common.broker_state import BrokerUnavailable, PublishTimeout
from secmonkey.common.runtime import Runtime
from secmonkey.common.settings import CommonSettings
from secmonkey.common.storage import Database
from tests.support.amqp_proxy import AmqpProxy

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def proxy(amqp_url: str) -> AsyncIterator[AmqpProxy]:
    parsed = urlparse(amqp_url)
    started = await AmqpProxy(parsed.hostname or "127.0.0.1", parsed.port or 5672).start()
    yield started
    await started.stop()


async def _eventually(condition: object, what: str) -> None:
    for _ in range(200):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never saw {what}")


async def test_a_publish_to_a_broker_that_stops_reading_fails_within_the_deadline(
    proxy: AmqpProxy, amqp_url: str, rabbit: AbstractRobustConnection, unique: str
) -> None:
    channel = await rabbit.channel()
    queue = await channel.declare_queue(f"test.deadline.{unique}", auto_delete=True)
    connection = await amqp.connect(proxy.url(amqp_url))
    try:
        publisher = await amqp.Publisher.open(connection, deadline=1.0)
        await publisher.publish("", queue.name, b'{"n": 1}', message_id="before")
        proxy.freeze()
        with pytest.raises(PublishTimeout, match="did not confirm a publish within 1s"):
            await publisher.publish("", queue.name, b'{"n": 2}', message_id="frozen")
        with pytest.raises(PublishTimeout):
            await publisher.publish_many("", [(queue.name, b'{"n": 3}', "frozen-batch")])
    finally:
        await proxy.stop()
        await connection.close()
        await channel.close()


async def test_a_resource_alarm_shows_in_readiness_and_metrics_and_refuses_publishes(
    proxy: AmqpProxy,
    amqp_url: str,
    mongo_url: str,
    db: Database,
    db_name: str,
    rabbit: AbstractRobustConnection,
    unique: str,
) -> None:
    settings = CommonSettings(
        mongo_url=mongo_url,
        mongo_db=db_name,
        amqp_url=proxy.url(amqp_url),
        publish_timeout_seconds=2.0,
    )
    channel = await rabbit.channel()
    queue = await channel.declare_queue(f"test.alarm.{unique}", auto_delete=True)
    runtime = await Runtime.open(settings, indexes=False)
    try:
        assert runtime.publisher is not None
        assert (await runtime.readiness())["rabbitmq"] == "ok"

        await proxy.block("low on disk")
        await _eventually(runtime.rabbit_blocked, "the connection blocked")
        assert (await runtime.readiness())["rabbitmq"] == "error: blocked by a resource alarm"
        assert "secmonkey_rabbitmq_blocked 1.0" in generate_latest(REGISTRY).decode()
        with pytest.raises(BrokerUnavailable, match="resource alarm"):
            await runtime.publisher.publish("", queue.name, b"{}", message_id="blocked")

        await proxy.unblock()
        await _eventually(lambda: not runtime.rabbit_blocked(), "the connection unblocked")
        assert (await runtime.readiness())["rabbitmq"] == "ok"
        assert "secmonkey_rabbitmq_blocked 0.0" in generate_latest(REGISTRY).decode()
        await runtime.publisher.publish("", queue.name, b"{}", message_id="after")
        message = await queue.get(timeout=10)
        assert message.message_id == "after"
        await message.ack()
    finally:
        await runtime.close()
        await channel.close()
