"""What every service holds while it runs: the MongoDB database and the RabbitMQ connection."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from dataclasses import dataclass, field

from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient

from secmonkey.common import amqp, consumer_reports, storage
from secmonkey.common.settings import CommonSettings
from secmonkey.common.storage import Database, Document

log = logging.getLogger(__name__)


_frozen = False


def _freeze_once() -> None:
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


@dataclass
class Runtime:
    settings: CommonSettings
    client: AsyncMongoClient[Document]
    db: Database
    capabilities: storage.Capabilities
    rabbit: AbstractRobustConnection | None = None
    publisher: amqp.Publisher | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    consumers: list[amqp.Consumer] = field(default_factory=list)
    process: str = field(default_factory=consumer_reports.process_name)

    @classmethod
    async def open(
        cls, settings: CommonSettings, *, rabbit: bool = True, indexes: bool = True
    ) -> Runtime:
        """Connect to MongoDB (creating indexes) and RabbitMQ (declaring the topology)."""
        client = storage.connect(settings.mongo_url)
        db = client[settings.mongo_db]
        try:
            # What the database can do, found once; a backend it does not know stops here.
            capabilities = await storage.with_retry(
                lambda: storage.detect(client, settings.storage_capabilities),
                what="detecting the database backend",
            )
        except BaseException:
            await client.close()
            raise
        runtime = cls(settings=settings, client=client, db=db, capabilities=capabilities)
        try:
            if indexes:
                await storage.with_retry(
                    lambda: storage.ensure_indexes(db), what="creating indexes"
                )
            if rabbit:
                runtime.rabbit = await amqp.connect(settings.amqp_url)
                channel = await runtime.rabbit.channel()
                await amqp.declare_topology(channel)
                await channel.close()
                runtime.publisher = await amqp.Publisher.open(runtime.rabbit)
            if settings.consumer_report_seconds > 0:  # services that connect on their own too
                runtime.tasks.append(
                    asyncio.create_task(runtime._report_consumers(), name="consumer reports")
                )
        except BaseException:
            await runtime.close()
            raise
        # Everything loaded so far (modules, the app, its schemas) lives as long as the
        # process: keep it out of the garbage collector's full passes, which otherwise
        # walk it again and again while requests allocate (measured on a 1,000-rule
        # search: p95 48 -> 36 ms). Once per process: a test process opens many runtimes.
        _freeze_once()
        return runtime

    async def _report_consumers(self) -> None:
        """Keep this process's consumer reports fresh for the collector's watchdog."""
        while True:
            await asyncio.sleep(self.settings.consumer_report_seconds)
            if not self.consumers:
                continue
            try:
                await consumer_reports.report(self.db, self.process, self.consumers)
            except Exception as exc:  # the database is down: readiness says so already
                log.warning("could not report consumer states: %s", exc)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.consumers and self.settings.consumer_report_seconds > 0:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(3):
                    await consumer_reports.withdraw(self.db, self.process, self.consumers)
        if self.rabbit is not None:
            await self.rabbit.close()
        await self.client.close()

    async def readiness(self) -> dict[str, str]:
        """`ok` or the error text for each dependency."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(storage.ping(self.db), timeout=3)
            checks["mongodb"] = "ok"
        except Exception as exc:  # any failure means not ready
            checks["mongodb"] = f"error: {exc.__class__.__name__}: {exc}"[:300]
        if self.rabbit is not None:
            checks["rabbitmq"] = "ok" if not self.rabbit.is_closed else "error: connection closed"
        for consumer in self.consumers:
            trouble = consumer.trouble
            checks[f"consumer {consumer.spec.name}"] = (
                "ok" if trouble is None else f"error: {trouble}"
            )
        return checks
