"""Several broker addresses: a service whose RabbitMQ node goes away carries on through
the next one (aio-pika alone would knock on the dead node's door forever)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import aio_pika
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from secmonkey.common import amqp
from tests.support.amqp_proxy import AmqpProxy
from tests.support.servers import free_port

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def nodes(amqp_url: str) -> AsyncIterator[list[AmqpProxy]]:
    """Two "nodes": proxies in front of the shared broker, each of which can go away."""
    parsed = urlparse(amqp_url)
    proxies = [
        await AmqpProxy(parsed.hostname or "127.0.0.1", parsed.port or 5672).start()
        for _ in range(2)
    ]
    yield proxies
    for proxy in proxies:
        await proxy.stop()


async def test_a_consumer_whose_node_goes_away_receives_through_the_next_address(
    nodes: list[AmqpProxy], amqp_url: str, rabbit: AbstractRobustConnection, unique: str
) -> None:
    first, second = nodes
    url = f"{first.url(amqp_url)},{second.url(amqp_url)}"
    connection = await amqp.connect(url)
    received: list[bytes] = []
    try:
        assert connection.url.port == first.port
        channel = await connection.channel()
        queue = await channel.declare_queue(f"test.failover.{unique}", durable=True)

        async def on_message(message: AbstractIncomingMessage) -> None:
            received.append(message.body)
            await message.ack()

        await queue.consume(on_message)
        sender = await rabbit.channel()
        await sender.default_exchange.publish(_message(b"before"), routing_key=queue.name)
        await _eventually(lambda: received == [b"before"])

        await first.stop()  # the node every connection was on is gone
        await _eventually(
            lambda: connection.url.port == second.port and connection.connected.is_set()
        )
        await sender.default_exchange.publish(_message(b"after"), routing_key=queue.name)
        await _eventually(lambda: received == [b"before", b"after"])
        await sender.queue_delete(queue.name)
        await sender.close()
    finally:
        await connection.close()


async def test_a_service_starts_while_the_first_address_is_down(
    nodes: list[AmqpProxy], amqp_url: str
) -> None:
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    connection = await amqp.connect(f"{dead},{nodes[1].url(amqp_url)}")
    try:
        assert connection.url.port == nodes[1].port
        channel = await connection.channel()
        assert not channel.is_closed
    finally:
        await connection.close()


def _message(body: bytes) -> aio_pika.Message:
    return aio_pika.Message(body)


async def _eventually(condition: object, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the condition never held")
