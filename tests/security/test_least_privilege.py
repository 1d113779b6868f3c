"""Each service's RabbitMQ user may do its own job and nothing else, proven on the local
broker: the provisioning step runs for real in a private virtual host with one user per
service, and each user is tried at what it must do and at what an attacker holding its
credential would try (a notifier forging snapshots for a mass deletion, a collector
reading every alert)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage
from aiormq.exceptions import ChannelAccessRefused

from deploy.local import vhosts
from secmonkey.common import amqp, storage
from secmonkey.common.amqp.topology import SECURITYHUB_QUEUE, undelivered_queue
from secmonkey.common.messages import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    SNAPSHOTS_EXCHANGE,
    SWEEPS_QUEUE,
)
from secmonkey.common.provision import ProvisionSettings, provision, rabbit_users
from secmonkey.common.runtime import Runtime
from secmonkey.common.settings import CommonSettings
from secmonkey.common.storage.collections import Service

pytestmark = pytest.mark.integration
SERVICES: tuple[Service, ...] = ("collector", "auditor", "notifier", "api")


@pytest_asyncio.fixture(scope="module")
async def users(amqp_url: str, mongo_url: str) -> AsyncIterator[dict[Service, str]]:
    """`secmonkey admin provision` in a private virtual host: each service's AMQP URL."""
    tag = uuid.uuid4().hex[:8]
    vhost = f"test-priv-{tag}"
    admin_url = await asyncio.to_thread(vhosts.create, vhost, vhosts.with_vhost(amqp_url, "/"))
    urls: dict[Service, str] = {
        s: vhosts.with_vhost(f"amqp://test-{tag}-{s}:pw-{uuid.uuid4().hex}@127.0.0.1:5672/", vhost)
        for s in SERVICES
    }
    settings = ProvisionSettings(
        mongo_url=mongo_url,
        mongo_db=f"test_priv_{tag}",
        amqp_url=admin_url,
        rabbitmq_users="rabbitmqctl",
        partitions=0,  # the single auditor queue (partition permissions: tests/unit/common)
        api_mongo_url=f"mongodb://test-{tag}-api:pw@127.0.0.1:27017/",
        **{f"{s}_amqp_url": u for s, u in urls.items()},
    )
    try:
        report = await provision(settings)
        assert len([line for line in report.done if line.startswith("RabbitMQ user")]) == 4
        # FerretDB has no authorization: said, not silently passed over
        assert any("FerretDB has none" in line for line in report.skipped)
        yield urls
    finally:
        names = [f"test-{tag}-{s}" for s in SERVICES]
        await asyncio.to_thread(rabbit_users.delete_with_rabbitmqctl, names)
        await asyncio.to_thread(vhosts.delete, vhost)
        client = storage.connect(mongo_url)
        await client.drop_database(settings.mongo_db)
        await client.close()


async def publish_as(url: str, exchange: str, routing_key: str) -> None:
    """Publish one confirmed message as the URL's user, the way the services do."""
    connection = await amqp.connect(url)
    try:
        publisher = await amqp.Publisher.open(connection, deadline=10, declare=False)
        await publisher.publish(exchange, routing_key, b"{}")
    finally:
        await connection.close()


async def consume_one(url: str, queue: str) -> AbstractIncomingMessage | None:
    connection = await amqp.connect(url)
    try:
        channel = await connection.channel()
        found = await channel.declare_queue(queue, passive=True)
        message = await found.get(fail=False, no_ack=False)
        if message is not None:
            await message.ack()
        return message
    finally:
        await connection.close()


async def refused(action: Awaitable[object]) -> str:
    """Why the broker closed the channel (ACCESS_REFUSED, with the user and resource)."""
    with pytest.raises(ChannelAccessRefused) as caught:
        await action
    return str(caught.value.args[0])


async def test_notifier_user_cannot_publish_snapshots(users: dict[Service, str]) -> None:
    why = await refused(publish_as(users["notifier"], SNAPSHOTS_EXCHANGE, "aws.1.eu-west-1"))
    assert why.startswith("ACCESS_REFUSED - access to exchange 'secmonkey.snapshots'")


async def test_collector_user_cannot_consume_events(users: dict[Service, str]) -> None:
    why = await refused(consume_one(users["collector"], amqp.NOTIFIER_QUEUE.name))
    assert why.startswith("ACCESS_REFUSED - access to queue 'notifier.events'")


@pytest.mark.parametrize("service", ["notifier", "auditor", "api"])
async def test_only_the_collector_can_publish_snapshots(
    users: dict[Service, str], service: Service
) -> None:
    why = await refused(publish_as(users[service], SNAPSHOTS_EXCHANGE, "aws.1.eu-west-1"))
    assert why.startswith("ACCESS_REFUSED")


@pytest.mark.parametrize("service", ["collector", "auditor", "api"])
async def test_no_other_user_reads_the_alerts(users: dict[Service, str], service: Service) -> None:
    why = await refused(consume_one(users[service], amqp.NOTIFIER_QUEUE.name))
    assert why.startswith("ACCESS_REFUSED")


@pytest.mark.parametrize("service", ["auditor", "notifier"])
async def test_consumers_cannot_reach_queues_through_the_default_exchange(
    users: dict[Service, str], service: Service
) -> None:
    why = await refused(publish_as(users[service], "", amqp.AUDITOR_QUEUE.name))
    assert why.startswith("ACCESS_REFUSED - access to exchange 'amq.default'")


@pytest.mark.parametrize("service", SERVICES)
async def test_no_service_user_can_declare_or_delete(
    users: dict[Service, str], service: Service
) -> None:
    connection = await amqp.connect(users[service])
    try:
        channel = await connection.channel()
        with pytest.raises(ChannelAccessRefused):
            await channel.declare_queue(f"intruder.{uuid.uuid4().hex}", durable=True)
        channel = await connection.channel()
        with pytest.raises(ChannelAccessRefused):
            await channel.queue_delete(amqp.AUDITOR_QUEUE.name)
    finally:
        await connection.close()


async def test_each_service_user_does_its_own_job(users: dict[Service, str]) -> None:
    """collector: sweeps in, snapshots and system events out; auditor: snapshots in, events
    out; notifier: events in, undelivered alerts parked; api: sweep requests, events, dead
    letters. Each consumer starts the way the service starts with SECMONKEY_DECLARE_AT_START
    off (checks, no declarations)."""
    await publish_as(users["api"], "", SWEEPS_QUEUE)
    await publish_as(users["collector"], "", SWEEPS_QUEUE)  # the scheduler
    assert await consume_one(users["collector"], SWEEPS_QUEUE) is not None
    await publish_as(users["collector"], SNAPSHOTS_EXCHANGE, "aws.111111111111.eu-west-1")
    await publish_as(users["collector"], EVENTS_EXCHANGE, "system.sweep_overdue")
    assert await consume_one(users["auditor"], amqp.AUDITOR_QUEUE.name) is not None
    await publish_as(users["auditor"], EVENTS_EXCHANGE, "group.created")
    await publish_as(users["api"], EVENTS_EXCHANGE, "issue.justified")
    undelivered = undelivered_queue(amqp.NOTIFIER_QUEUE)
    await publish_as(users["notifier"], DEAD_LETTER_EXCHANGE, undelivered)
    # Each consumer, started as its service starts it, dead-letters what it cannot parse.
    await publish_as(users["api"], "", SWEEPS_QUEUE)
    await consumer_dead_letters_its_own(users["collector"], amqp.SWEEPS)
    await publish_as(users["collector"], SNAPSHOTS_EXCHANGE, "aws.111111111111.eu-west-1")
    await consumer_dead_letters_its_own(users["auditor"], amqp.AUDITOR_QUEUE)
    await consumer_dead_letters_its_own(users["notifier"], amqp.NOTIFIER_QUEUE)
    # the collector's Security Hub export: issue.justified reached it too
    await consumer_dead_letters_its_own(users["collector"], SECURITYHUB_QUEUE)
    for spec in amqp.TOPOLOGY:
        assert await consume_one(users["api"], spec.dead_letter_queue) is not None


async def consumer_dead_letters_its_own(url: str, spec: amqp.QueueSpec) -> None:
    """The service's Consumer, checking (not declaring) its queue, dead-letters a message
    it cannot parse into its own dead-letter queue: read permission and the write on
    `<queue>.dlx` suffice."""
    from secmonkey.common.errors import InvalidInput

    seen: list[bytes] = []

    async def handler(message: AbstractIncomingMessage) -> None:
        seen.append(message.body)
        raise InvalidInput("not a message")

    connection = await amqp.connect(url)
    try:
        consumer = amqp.Consumer(connection, spec, handler, declare=False)
        await consumer.start()
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
        await consumer.stop()
    finally:
        await connection.close()
    assert seen, f"{spec.name}: nothing consumed"


async def test_the_definitions_file_grants_the_same_permissions(
    users: dict[Service, str],
) -> None:
    """The file production loads (`--print rabbitmq-definitions`) signs a notifier in with
    its password hash and refuses it the snapshots exchange, as `rabbitmqctl` does."""
    vhost = vhosts.vhost_of(users["notifier"])
    name, password = f"test-{uuid.uuid4().hex[:8]}-defs", uuid.uuid4().hex
    definitions = rabbit_users.definitions(vhost, {"notifier": password}, {"notifier": name})
    await asyncio.to_thread(rabbit_users.import_with_rabbitmqctl, definitions)
    try:
        url = vhosts.with_vhost(f"amqp://{name}:{password}@127.0.0.1:5672/", vhost)
        why = await refused(publish_as(url, SNAPSHOTS_EXCHANGE, "aws.1.eu-west-1"))
        assert why.startswith("ACCESS_REFUSED")
        await publish_as(users["auditor"], EVENTS_EXCHANGE, "group.created")
        assert await consume_one(url, amqp.NOTIFIER_QUEUE.name) is not None
    finally:
        await asyncio.to_thread(rabbit_users.delete_with_rabbitmqctl, [name])


async def test_a_service_that_may_not_declare_stops_naming_what_is_missing(
    amqp_url: str, mongo_url: str
) -> None:
    """Before `secmonkey admin provision` ran, a least-privilege service says what is
    missing and how to make it, instead of failing on a refused declaration."""
    vhost = f"test-unprov-{uuid.uuid4().hex[:8]}"
    url = await asyncio.to_thread(vhosts.create, vhost, vhosts.with_vhost(amqp_url, "/"))
    name = f"test_unprov_{uuid.uuid4().hex[:8]}"
    settings = CommonSettings(
        amqp_url=url, mongo_url=mongo_url, mongo_db=name, declare_at_start=False, partitions=0
    )
    client = storage.connect(mongo_url)
    try:
        with pytest.raises(amqp.NotProvisioned) as no_indexes:
            await Runtime.open(settings)
        assert "index revisions.key_1_seq_1" in str(no_indexes.value)  # a unique one
        assert "run `secmonkey admin provision`" in str(no_indexes.value)
        await storage.ensure_indexes(client[name])
        with pytest.raises(amqp.NotProvisioned) as no_queues:
            await Runtime.open(settings)
        assert "queue auditor.snapshots" in no_queues.value.missing
        assert "exchange secmonkey.snapshots" in no_queues.value.missing
        connection = await amqp.connect(url)
        await amqp.declare_topology(connection)  # what provisioning does
        await connection.close()
        runtime = await Runtime.open(settings)
        await runtime.close()
    finally:
        await client.drop_database(name)
        await client.close()
        await asyncio.to_thread(vhosts.delete, vhost)
