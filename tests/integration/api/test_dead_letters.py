"""`/dead-letters`: what a consumer could not process is listed with its reason and
publisher, replayed into its queue after a fix, or purged; only admins see it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from secmonkey.common import amqp, dead_letters
from secmonkey.common.health import ops_app
from secmonkey.common.messages import SNAPSHOTS_EXCHANGE, parse_snapshot_message
from secmonkey.common.storage import Database
from tests.integration.api import harness

pytestmark = pytest.mark.integration

MALFORMED = b'{"kind": "snapshot_batch", "groups": 7}'


class Broken:
    """A consumer whose handler refuses snapshot batches it cannot parse until `fixed`."""

    def __init__(self) -> None:
        self.fixed = False
        self.handled: list[bytes] = []
        self.got = asyncio.Event()

    async def handle(self, message: AbstractIncomingMessage) -> None:
        if not self.fixed:
            parse_snapshot_message(message.body)
        self.handled.append(message.body)
        self.got.set()


@pytest_asyncio.fixture
async def spec(rabbit: AbstractRobustConnection, unique: str) -> AsyncIterator[amqp.QueueSpec]:
    spec = amqp.QueueSpec(f"test.dlq.{unique}", SNAPSHOTS_EXCHANGE, (f"aws.{unique}.#",))
    yield spec
    channel = await rabbit.channel()
    for name in (spec.name, spec.dead_letter_queue):
        await channel.queue_delete(name)
    await channel.exchange_delete(spec.dead_letter_exchange)
    await channel.close()


@pytest_asyncio.fixture
async def broken(rabbit: AbstractRobustConnection, spec: amqp.QueueSpec) -> AsyncIterator[Broken]:
    handler = Broken()
    consumer = amqp.Consumer(rabbit, spec, handler.handle)
    await consumer.start()
    yield handler
    await consumer.stop()


@pytest_asyncio.fixture
async def app_client(
    mongo_url: str, amqp_url: str, db: Database, db_name: str, spec: amqp.QueueSpec
) -> AsyncIterator[httpx.AsyncClient]:
    settings = harness.settings_for(mongo_url, amqp_url, db_name, consumer_queues=[spec.name])
    async with harness.running(settings) as app, harness.client_for(app) as client:
        yield client


async def dead_letter(
    rabbit: AbstractRobustConnection, spec: amqp.QueueSpec, unique: str, *ids: str | None
) -> None:
    """Publish a malformed batch per id and wait until the consumer dead-lettered them."""
    publisher = await amqp.Publisher.open(rabbit)
    before = await dead_letters.depth(rabbit, spec.name) or 0
    for message_id in ids:
        await publisher.publish(
            SNAPSHOTS_EXCHANGE, f"aws.{unique}.x", MALFORMED, message_id=message_id
        )
    await publisher.close()
    for _ in range(100):
        if (await dead_letters.depth(rabbit, spec.name) or 0) >= before + len(ids):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the consumer did not dead-letter the malformed messages")


async def listed(client: httpx.AsyncClient, queue: str) -> dict[str, Any]:
    response = await client.get("/api/v1/dead-letters", params={"queue": queue})
    assert response.status_code == 200, response.text
    (entry,) = response.json()["queues"]
    return dict(entry)


async def test_a_malformed_message_is_listed_with_its_reason_and_publisher_then_replayed(
    rabbit: AbstractRobustConnection,
    spec: amqp.QueueSpec,
    unique: str,
    broken: Broken,
    app_client: httpx.AsyncClient,
) -> None:
    await dead_letter(rabbit, spec, unique, "batch-1")

    entry = await listed(app_client, spec.name)
    assert entry["depth"] == 1 and entry["dead_letter_queue"] == spec.dead_letter_queue
    (letter,) = entry["messages"]
    assert letter["id"] == "batch-1" and letter["queue"] == spec.name
    assert "malformed message" in letter["reason"]
    assert letter["published_by"] == "guest"
    assert letter["routing_key"] == f"aws.{unique}.x"
    assert letter["age_seconds"] >= 0 and letter["size"] == len(MALFORMED)
    # Looking left it there, and looking again sees the same message.
    assert (await listed(app_client, spec.name))["messages"][0]["id"] == "batch-1"

    shown = await app_client.get(f"/api/v1/dead-letters/{spec.name}/batch-1")
    assert shown.status_code == 200
    assert shown.json()["body"] == MALFORMED.decode()
    assert shown.json()["headers"][amqp.SOURCE_QUEUE_HEADER] == spec.name

    broken.fixed = True
    replay = await app_client.post(
        f"/api/v1/dead-letters/{spec.name}/replay", json={"ids": ["batch-1", "nope"]}
    )
    assert replay.status_code == 200, replay.text
    assert replay.json() | {"depth": None} == {
        "queue": spec.name,
        "done": ["batch-1"],
        "not_found": ["nope"],
        "removed": 1,
        "depth": None,
    }
    await asyncio.wait_for(broken.got.wait(), 10)
    assert broken.handled == [MALFORMED]
    assert (await listed(app_client, spec.name))["depth"] == 0
    # the gauge is process-wide: any app's metrics port shows it
    ops = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=ops_app(lambda: None)), base_url="http://ops"
    )
    async with ops:
        metrics = (await ops.get("/metrics")).text
    assert f'secmonkey_dead_letters{{queue="{spec.name}"}} 0.0' in metrics


async def test_purge_removes_one_dead_letter_then_all(
    rabbit: AbstractRobustConnection,
    spec: amqp.QueueSpec,
    unique: str,
    broken: Broken,
    app_client: httpx.AsyncClient,
) -> None:
    await dead_letter(rabbit, spec, unique, None, "two", "three")
    entry = await listed(app_client, spec.name)
    ids = [m["id"] for m in entry["messages"]]
    assert entry["depth"] == 3 and set(ids[1:]) == {"two", "three"}
    # A message published without an id (aiormq gives it a random one) keeps it at every look.
    assert [m["id"] for m in (await listed(app_client, spec.name))["messages"]] == ids

    one = await app_client.delete(f"/api/v1/dead-letters/{spec.name}", params={"id": ids[0]})
    assert one.status_code == 200 and one.json()["removed"] == 1 and one.json()["depth"] == 2
    everything = await app_client.delete(f"/api/v1/dead-letters/{spec.name}", params={"all": True})
    assert everything.json()["removed"] == 2 and everything.json()["depth"] == 0
    assert (await listed(app_client, spec.name))["messages"] == []
    assert broken.handled == []


async def test_only_admins_see_dead_letters_and_only_of_known_queues(
    app_client: httpx.AsyncClient, spec: amqp.QueueSpec
) -> None:
    made = await app_client.post("/api/v1/keys", json={"name": "dlq viewer", "role": "viewer"})
    viewer = {"Authorization": f"Bearer {made.json()['key']}"}
    assert (await app_client.get("/api/v1/dead-letters", headers=viewer)).status_code == 403
    replay = await app_client.post(
        f"/api/v1/dead-letters/{spec.name}/replay", json={"all": True}, headers=viewer
    )
    assert replay.status_code == 403
    unknown = await app_client.post(
        "/api/v1/dead-letters/auditor.snapshots.other/replay", json={"all": True}
    )
    assert unknown.status_code == 404
    assert (await app_client.delete(f"/api/v1/dead-letters/{spec.name}")).status_code == 422
