"""Every process reports its consumers' state, so the collector's watchdog sees a consumer
stuck in another process; a process that stops takes its reports with it."""

from __future__ import annotations

import asyncio

import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from secmonkey.common import amqp
from secmonkey.common.errors import TransientError
from secmonkey.common.runtime import Runtime
from secmonkey.common.settings import CommonSettings
from secmonkey.common.storage import Database

pytestmark = pytest.mark.integration


async def test_a_runtime_reports_its_consumers_and_withdraws_them_on_close(
    mongo_url: str, amqp_url: str, db: Database, rabbit: AbstractRobustConnection, unique: str
) -> None:
    settings = CommonSettings(
        environment="test",
        mongo_url=mongo_url,
        mongo_db=db.name,
        amqp_url=amqp_url,
        consumer_report_seconds=0.1,
    )
    queue = f"test.reports.{unique}"

    down = True

    async def handle(message: AbstractIncomingMessage) -> None:
        if down:
            raise TransientError("the database is unreachable")

    runtime = await Runtime.open(settings)
    try:
        consumer = amqp.Consumer(runtime.rabbit, amqp.QueueSpec(queue), handle)  # type: ignore[arg-type]
        await consumer.start()
        runtime.consumers.append(consumer)
        report_id = f"{queue}@{runtime.process}"
        report = None
        for _ in range(100):
            report = await db.consumer_reports.find_one({"_id": report_id})
            if report is not None:
                break
            await asyncio.sleep(0.05)
        assert report is not None and report["trouble"] is None

        assert runtime.publisher is not None
        await runtime.publisher.publish("", queue, b"{}")
        for _ in range(100):
            report = await db.consumer_reports.find_one({"_id": report_id})
            if report and report["trouble"]:
                break
            await asyncio.sleep(0.05)
        assert report is not None and "the database is unreachable" in report["trouble"]
        assert report["trouble_since"] <= report["reported_at"]
        down = False
        for _ in range(200):
            if consumer.trouble is None:
                break
            await asyncio.sleep(0.05)
        await consumer.stop()
    finally:
        await runtime.close()
        channel = await rabbit.channel()
        for name in (queue, f"{queue}.dead"):
            await channel.queue_delete(name)
        await channel.close()
    assert await db.consumer_reports.find_one({"_id": report_id}) is None
