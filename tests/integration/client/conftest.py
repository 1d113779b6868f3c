"""A real API server on loopback over the auditor-built estate, for the client and the CLI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest_asyncio

from tests.integration.api import harness


@pytest_asyncio.fixture(scope="session")
async def live(mongo_url: str, amqp_url: str) -> AsyncIterator[harness.LiveServer]:
    name = await harness.fresh_estate(mongo_url)
    consumer_queue = f"test.cli.{uuid.uuid4().hex[:10]}"  # whose dead letters the CLI handles
    settings = harness.settings_for(mongo_url, amqp_url, name, consumer_queues=[consumer_queue])
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    server = harness.LiveServer(settings).start()
    server.sweeps = await channel.declare_queue(settings.sweeps_queue)  # type: ignore[attr-defined]
    server.consumer_queue = consumer_queue  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        await channel.queue_delete(settings.sweeps_queue)
        for queue in (consumer_queue, f"{consumer_queue}.dead"):
            await channel.queue_delete(queue)
        await connection.close()
        await harness.drop(mongo_url, name)
