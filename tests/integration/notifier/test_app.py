"""The notifier as deployed: the FastAPI app's lifespan runs the consumer; probes and metrics answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from secmonkey.common import amqp
from secmonkey.common.documents import Channel
from secmonkey.common.messages import EVENTS_EXCHANGE
from secmonkey.common.storage import Database
from secmonkey.notifier.app import create_app
from secmonkey.notifier.service import undelivered_queue
from tests.integration.notifier.conftest import make_event, notifier_settings, subscription, until
from tests.support.servers import HttpReceiver

pytestmark = pytest.mark.integration


async def test_app_consumes_events_and_reports_health_and_metrics(
    db: Database,
    rabbit: AbstractRobustConnection,
    amqp_url: str,
    unique: str,
    http_receiver: HttpReceiver,
) -> None:
    sub = subscription(Channel(type="generic", url=f"{http_receiver.url}/h", secret="k"))
    await db.subscriptions.insert_one(sub.to_mongo())
    spec = amqp.QueueSpec(f"test.notifier.app.{unique}", EVENTS_EXCHANGE, (f"#.{unique}",))
    app = create_app(notifier_settings(db, amqp_url=amqp_url), queue=spec)  # this session's vhost
    event = make_event()
    publisher = await amqp.Publisher.open(rabbit)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
                assert (await client.get("/healthz")).json() == {"status": "ok"}
                ready = await client.get("/readyz")
                assert ready.status_code == 200
                assert ready.json()["checks"] == {
                    "mongodb": "ok",
                    "rabbitmq": "ok",
                    f"consumer {spec.name}": "ok",
                }
                await publisher.publish(EVENTS_EXCHANGE, f"issue.opened.{unique}", event)
                assert await until(lambda: http_receiver.received)
                assert await until(lambda: _delivered(db))
                metrics = (await client.get("/metrics")).text
        assert http_receiver.received[0].json()["id"] == event.event_id
        for name in (
            'secmonkey_notifier_sent_total{channel="generic"}',
            'secmonkey_notifier_attempt_seconds_count{channel="generic"}',
            'secmonkey_notifier_latency_seconds_count{channel="generic"}',
            "secmonkey_notifier_failed_total",
            "secmonkey_notifier_retried_total",
        ):
            assert name in metrics
    finally:
        await publisher.close()
        channel = await rabbit.channel()
        for name in (spec.name, spec.dead_letter_queue, undelivered_queue(spec)):
            await channel.queue_delete(name)
        await channel.close()


async def _delivered(db: Database) -> bool:
    return await db.deliveries.count_documents({"status": "delivered"}) == 1


async def test_a_malformed_event_is_dead_lettered_and_does_not_block_the_queue(
    start_notifier: Any, http_receiver: HttpReceiver
) -> None:
    sub = subscription(Channel(type="generic", url=f"{http_receiver.url}/h", secret="k"))
    async with start_notifier([sub]) as h:
        await h.publisher.publish(EVENTS_EXCHANGE, f"issue.opened.{h.unique}", b'{"type": "nope"}')
        event = make_event()
        await h.publish(event)
        assert await until(lambda: http_receiver.received)
        channel = await h.rabbit.channel()
        queue = await channel.get_queue(h.notifier.spec.dead_letter_queue)
        dead = None
        for _ in range(50):
            dead = await queue.get(no_ack=True, fail=False)
            if dead is not None:
                break
            await until(lambda: False, timeout=0.1)
        await channel.close()
    assert http_receiver.received[0].json()["id"] == event.event_id
    assert dead is not None and "malformed message" in dead.headers["x-secmonkey-reason"]
