"""A real API server on loopback over the auditor-built estate, for the client and the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import pytest_asyncio

from tests.integration.api import harness


@pytest_asyncio.fixture(scope="session")
async def live(mongo_url: str, amqp_url: str) -> AsyncIterator[harness.LiveServer]:
    name = await harness.fresh_estate(mongo_url)
    settings = harness.settings_for(mongo_url, amqp_url, name)
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    server = harness.LiveServer(settings).start()
    server.sweeps = await channel.declare_queue(settings.sweeps_queue)  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        await channel.queue_delete(settings.sweeps_queue)
        await connection.close()
        await harness.drop(mongo_url, name)
