"""The API while RabbitMQ is down: it starts, serves reads and the console, stays ready
(saying the broker is unavailable), and keeps what it must publish in its outbox until the
broker is reachable. The shared broker is never stopped: the API is pointed at a closed
port, or at a listener that accepts and never speaks AMQP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from aio_pika import ExchangeType
from aio_pika.abc import AbstractQueue, AbstractRobustConnection
from aio_pika.exceptions import QueueEmpty

from secmonkey.common.messages import EVENTS_EXCHANGE, Event, SweepRequest
from tests.integration.api import harness
from tests.integration.web.inprocess import browser_like, sign_in
from tests.support.amqp_proxy import SilentListener
from tests.support.estate import LEGACY
from tests.support.servers import free_port

pytestmark = pytest.mark.integration


@asynccontextmanager
async def unreachable_broker(kind: str) -> AsyncIterator[str]:
    if kind == "closed":
        yield f"amqp://guest:guest@127.0.0.1:{free_port()}/"
        return
    listener = await SilentListener().start()
    try:
        yield f"amqp://guest:guest@127.0.0.1:{listener.port}/"
    finally:
        await listener.stop()


@pytest.mark.parametrize("kind", ["closed", "silent"])
async def test_the_api_starts_without_rabbitmq_and_serves_reads_and_the_console(
    mongo_url: str, estate_db_name: str, kind: str
) -> None:
    async with unreachable_broker(kind) as broker_url:
        settings = harness.settings_for(
            mongo_url, broker_url, estate_db_name, publish_timeout_seconds=1.0
        )
        server = await asyncio.to_thread(harness.LiveServer(settings).start)
        try:
            headers = {"Authorization": f"Bearer {harness.ADMIN_KEY}"}
            async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
                groups = await client.get("/api/v1/groups")
                assert groups.status_code == 200, groups.text
                assert groups.json()["items"]
                ready = await client.get("/readyz")
                assert ready.status_code == 200, ready.text
                assert ready.json()["status"] == "degraded"
                assert ready.json()["checks"]["mongodb"] == "ok"
                assert ready.json()["checks"]["rabbitmq"].startswith("degraded: unavailable")
                # (process-wide gauges: other APIs of this test process are connected)
                metrics = (await client.get("/metrics")).text
                assert "# TYPE secmonkey_rabbitmq_connected gauge" in metrics
        finally:
            await asyncio.to_thread(server.stop)
        async with harness.running(settings) as app, browser_like(app) as console:
            await sign_in(console, harness.ADMIN_KEY)
            dashboard = await console.get("/console/")
            assert dashboard.status_code == 200 and "bootstrap" in dashboard.text


async def _declare(rabbit: AbstractRobustConnection, sweeps: str) -> tuple[AbstractQueue, ...]:
    channel = await rabbit.channel()
    sweep_queue = await channel.declare_queue(sweeps, auto_delete=True)
    events = await channel.declare_exchange(EVENTS_EXCHANGE, ExchangeType.TOPIC, durable=True)
    event_queue = await channel.declare_queue(exclusive=True)
    await event_queue.bind(events, routing_key="issue.justified")
    return sweep_queue, event_queue


async def _next(queue: AbstractQueue) -> tuple[str | None, bytes]:
    for _ in range(600):
        try:
            message = await queue.get(timeout=5)
        except QueueEmpty:
            await asyncio.sleep(0.1)
            continue
        await message.ack()
        return message.message_id, message.body
    raise AssertionError(f"nothing arrived on {queue.name}")


async def test_sweeps_and_justifications_wait_in_the_outbox_until_rabbitmq_is_reachable(
    mongo_url: str, amqp_url: str, rabbit: AbstractRobustConnection
) -> None:
    name = await harness.fresh_estate(mongo_url)
    quick = {"publish_timeout_seconds": 1.0, "outbox_republish_seconds": 1.0}
    down = harness.settings_for(mongo_url, f"amqp://guest:guest@127.0.0.1:{free_port()}/", name)
    down = down.model_copy(update=quick)
    try:
        async with harness.running(down) as app, harness.client_for(app) as admin:
            account_id = "210987654321"
            created = await admin.post("/api/v1/accounts", json={"id": account_id, "name": "x"})
            assert created.status_code in (200, 201), created.text
            sweep = await admin.post("/api/v1/sweeps", json={"account_id": account_id})
            assert sweep.status_code == 202, sweep.text
            assert sweep.json()["pending"] is True
            (queued,) = sweep.json()["sweeps"]
            issues = (await admin.get("/api/v1/issues", params={"group_id": LEGACY})).json()
            issue_id = issues["items"][0]["id"]
            justified = await admin.put(
                f"/api/v1/issues/{issue_id}/justification", json={"reason": "accepted risk"}
            )
            assert justified.status_code == 200, justified.text
            db = app.state.runtime.db
            stored = await db.api_outbox.find().to_list()
            # the audit log's admin.* events (account, sweep, justification) wait there too
            admin = [d for d in stored if d["routing_key"].startswith("admin.")]
            assert len(admin) == 3
            waiting = {d["_id"]: d for d in stored if d not in admin}
            assert f"{queued['sweep_id']}:{account_id}" in waiting and len(waiting) == 2
            event = await db.events.find_one(
                {"type": "issue.justified", "issue.issue_id": issue_id}
            )
            assert event is not None and event["_id"] in waiting

        # The broker is reachable again (an API replica pointed at it): what waited is sent.
        sweep_queue, event_queue = await _declare(rabbit, down.sweeps_queue)
        up = down.model_copy(update={"amqp_url": amqp_url})
        async with harness.running(up) as app:
            message_id, body = await _next(sweep_queue)
            assert message_id == f"{queued['sweep_id']}:{account_id}"
            request = SweepRequest.model_validate(json.loads(body))
            assert request.sweep_id == queued["sweep_id"] and request.account_id == account_id
            message_id, body = await _next(event_queue)
            published = Event.model_validate(json.loads(body))
            assert message_id == event["_id"] == published.event_id
            assert published.issue is not None and published.issue.issue_id == issue_id
            for _ in range(100):
                if await app.state.runtime.db.api_outbox.count_documents({}) == 0:
                    break
                await asyncio.sleep(0.1)
            assert await app.state.runtime.db.api_outbox.count_documents({}) == 0
    finally:
        await harness.drop(mongo_url, name)


async def test_a_justification_is_published_at_once_while_rabbitmq_is_up(
    mongo_url: str, amqp_url: str, rabbit: AbstractRobustConnection
) -> None:
    name = await harness.fresh_estate(mongo_url)
    settings = harness.settings_for(mongo_url, amqp_url, name)
    _, event_queue = await _declare(rabbit, settings.sweeps_queue)
    try:
        async with harness.running(settings) as app, harness.client_for(app) as admin:
            assert app.state.runtime.publisher is not None  # connected before serving
            issues = (await admin.get("/api/v1/issues", params={"group_id": LEGACY})).json()
            issue_id = issues["items"][0]["id"]
            answer = await admin.put(
                f"/api/v1/issues/{issue_id}/justification", json={"reason": "accepted risk"}
            )
            assert answer.status_code == 200, answer.text
            _, body = await _next(event_queue)
            published = Event.model_validate(json.loads(body))
            assert published.issue is not None and published.issue.issue_id == issue_id
            assert await app.state.runtime.db.api_outbox.count_documents({}) == 0
    finally:
        await harness.drop(mongo_url, name)
