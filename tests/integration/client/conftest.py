"""A real API server on loopback over the auditor-built estate, for the client and the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.integration.api import harness


@pytest_asyncio.fixture(scope="session")
async def live(mongo_url: str, amqp_url: str) -> AsyncIterator[harness.LiveServer]:
    name = await harness.fresh_estate(mongo_url)
    server = harness.LiveServer(harness.settings_for(mongo_url, amqp_url, name)).start()
    try:
        yield server
    finally:
        server.stop()
        await harness.drop(mongo_url, name)
