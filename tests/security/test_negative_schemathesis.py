"""Hostile requests generated from the OpenAPI schema (schemathesis, negative mode: wrong
types, out-of-range numbers, unknown fields, malformed bodies and parameters) against every
operation, with each role's key: the API answers every one of them with a clear 4xx (or a
2xx where the input happens to be acceptable), never a 5xx.

Kept small (a few examples per operation, each sent with every role's key) so that the run stays near a minute."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import httpx
import pytest
import pytest_asyncio
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from secmonkey.api.app import create_app
from tests.integration.api import harness

pytestmark = pytest.mark.integration

schema = schemathesis.openapi.from_dict(create_app().openapi())
schema.config.generation.update(modes=[GenerationMode.NEGATIVE])
ROLES = ("viewer", "auditor", "admin")


@pytest_asyncio.fixture(scope="module")
async def hostile_target(
    mongo_url: str, amqp_url: str
) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """The API as a real server over the estate, and a key per role."""
    name = await harness.fresh_estate(mongo_url)
    config = harness.settings_for(mongo_url, amqp_url, name)
    # No connection stays open across the (synchronous) tests: it would miss its heartbeats.
    await _queue(amqp_url, config.sweeps_queue, declare=True)
    server = harness.LiveServer(config).start()
    keys = {"admin": harness.ADMIN_KEY}
    try:
        async with httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {harness.ADMIN_KEY}"}
        ) as admin:
            for role in ("viewer", "auditor"):
                made = await admin.post(
                    "/api/v1/keys", json={"name": f"negative {role}", "role": role}
                )
                made.raise_for_status()
                keys[role] = made.json()["key"]
        yield server.url, keys
    finally:
        server.stop()
        await _queue(amqp_url, config.sweeps_queue, declare=False)
        await harness.drop(mongo_url, name)


async def _queue(amqp_url: str, name: str, *, declare: bool) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        if declare:
            await channel.declare_queue(name)
        else:
            await channel.queue_delete(name)


@schema.parametrize()
@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_hostile_requests_never_get_a_5xx(
    case: schemathesis.Case, hostile_target: tuple[str, dict[str, str]]
) -> None:
    """Each generated request is sent with every role's key (and with none)."""
    url, keys = hostile_target
    for role in (*ROLES, None):
        headers = {"Authorization": f"Bearer {keys[role]}"} if role else {}
        response = case.call(base_url=url, headers=headers, timeout=60)
        case.validate_response(response, checks=[not_a_server_error])
        assert response.status_code < 500, (role, case.method, case.path, response.text[:300])
