"""Property-based contract test: requests generated from the OpenAPI schema (valid and
invalid) never get a 5xx, and every response matches what the schema documents
(status code, content type, body schema). Kept small: a few examples per operation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import pytest
import pytest_asyncio
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from secmonkey.api.app import create_app
from tests.integration.api import harness

pytestmark = pytest.mark.integration

# /healthz, /readyz and /metrics come from secmonkey.common.health (probes, Prometheus text).
schema = schemathesis.openapi.from_dict(create_app().openapi()).exclude(tag="operations")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest_asyncio.fixture(scope="module")
async def live(mongo_url: str, amqp_url: str) -> AsyncIterator[harness.LiveServer]:
    """The API as a real server over the estate, with its sweeps queue declared."""
    name = await harness.fresh_estate(mongo_url)
    config = harness.settings_for(mongo_url, amqp_url, name)
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await channel.declare_queue(config.sweeps_queue)
    server = harness.LiveServer(config).start()
    try:
        yield server
    finally:
        server.stop()
        await channel.queue_delete(config.sweeps_queue)
        await connection.close()
        await harness.drop(mongo_url, name)


@schema.parametrize()
@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_honours_its_schema(case: schemathesis.Case, live: harness.LiveServer) -> None:
    case.call_and_validate(
        base_url=live.url,
        headers={"Authorization": f"Bearer {harness.ADMIN_KEY}"},
        checks=CHECKS,
        timeout=60,
    )
