"""What every service holds while it runs: the MongoDB database and the RabbitMQ connection.

A consuming service needs RabbitMQ to start (`Runtime.open` connects before returning). A
service that can do useful work without it (the API: reads, searches, the console) opens
with `rabbit_in_background=True`: the connection is made by a task that retries until the
broker answers, and readiness reports RabbitMQ as `degraded` (still ready) until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from prometheus_client import Gauge
from pymongo import AsyncMongoClient

from secmonkey.common import amqp, consumer_reports, sealed, storage
from secmonkey.common.broker_state import is_blocked, is_connected
from secmonkey.common.settings import CommonSettings
from secmonkey.common.storage import Database, Document
from secmonkey.common.tasks import TASK_STOP_SECONDS, stop_tasks

log = logging.getLogger(__name__)


_frozen = False
_open: weakref.WeakSet[Runtime] = weakref.WeakSet()

RABBITMQ_BLOCKED = Gauge(
    "secmonkey_rabbitmq_blocked",
    "1 while RabbitMQ blocks this process's connection (a memory or disk resource alarm)",
)
RABBITMQ_BLOCKED.set_function(lambda: float(any(r.rabbit_blocked() for r in list(_open))))
RABBITMQ_CONNECTED = Gauge(
    "secmonkey_rabbitmq_connected", "1 while this process is connected to RabbitMQ"
)
RABBITMQ_CONNECTED.set_function(lambda: float(any(r.rabbit_connected() for r in list(_open))))
RECONNECT_FIRST_DELAY = 0.5
RECONNECT_MAX_DELAY = 30.0
# A connection attempt opens a connection, declares (or checks) the whole topology and a
# confirming channel: more work than one publish, so its deadline is at least this.
CONNECT_ATTEMPT_MIN_SECONDS = 20.0


def _close_late_connection(attempt: asyncio.Task[tuple[AbstractRobustConnection, Any]]) -> None:
    """An abandoned connection attempt that finished after all: its connection is closed."""
    if attempt.cancelled() or attempt.exception() is not None:
        return
    connection, _ = attempt.result()
    close = asyncio.ensure_future(connection.close())
    close.add_done_callback(lambda done: done.cancelled() or done.exception())


def _freeze_once() -> None:
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


@dataclass(eq=False)  # compared (and hashed) by identity: one per open service
class Runtime:
    settings: CommonSettings
    client: AsyncMongoClient[Document]
    db: Database
    capabilities: storage.Capabilities
    rabbit: AbstractRobustConnection | None = None
    publisher: amqp.Publisher | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    consumers: list[amqp.Consumer] = field(default_factory=list)
    # A runtime whose RabbitMQ connection is made in the background can work without the
    # broker (it stays ready); `rabbit_pending` says why it is not connected yet.
    rabbit_optional: bool = False
    rabbit_pending: str | None = None
    process: str = field(default_factory=consumer_reports.process_name)

    @classmethod
    async def open(
        cls,
        settings: CommonSettings,
        *,
        rabbit: bool = True,
        indexes: bool = True,
        rabbit_in_background: bool = False,
    ) -> Runtime:
        """Connect to MongoDB (creating indexes) and RabbitMQ (declaring the topology);
        with `declare_at_start` off, only check both exist (`NotProvisioned` names what not).

        With `rabbit_in_background` RabbitMQ is connected by a task that retries until it
        answers (`publisher` is None until then), so the service starts without it.
        """
        keys = settings.encryption_keys
        sealed.install(
            sealed.keyring_of(keys.get_secret_value() if keys else None, settings.environment)
        )
        client = storage.connect(
            settings.mongo_url, operation_timeout_seconds=settings.mongo_timeout_seconds
        )
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
            if indexes and settings.declare_at_start:
                await storage.with_retry(
                    lambda: storage.ensure_indexes(db), what="creating indexes"
                )
            elif indexes:
                missing = await storage.with_retry(
                    lambda: storage.missing_indexes(db), what="checking indexes"
                )
                if missing:
                    raise amqp.NotProvisioned(missing)
            if rabbit and rabbit_in_background:
                runtime.rabbit_optional, runtime.rabbit_pending = True, "connecting"
                tried = asyncio.Event()
                runtime.tasks.append(asyncio.create_task(runtime._connect_until_done(tried)))
                # A broker that answers is connected before the first request; one that does
                # not delays the start by one attempt at most.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(settings.publish_timeout_seconds):
                        await tried.wait()
            elif rabbit:
                await runtime._connect_rabbit()
            if settings.consumer_report_seconds > 0:  # services that connect on their own too
                runtime.tasks.append(
                    asyncio.create_task(runtime._report_consumers(), name="consumer reports")
                )
        except BaseException:
            await runtime.close()
            raise
        _open.add(runtime)
        # Everything loaded so far (modules, the app, its schemas) lives as long as the
        # process: keep it out of the garbage collector's full passes, which otherwise
        # walk it again and again while requests allocate (measured on a 1,000-rule
        # search: p95 48 -> 36 ms). Once per process: a test process opens many runtimes.
        _freeze_once()
        return runtime

    async def _connect_rabbit(self) -> None:
        self.rabbit, self.publisher = await self._open_rabbit()

    async def _open_rabbit(self) -> tuple[AbstractRobustConnection, amqp.Publisher]:
        connection = await amqp.connect(self.settings.amqp_url)
        try:
            declare = self.settings.declare_at_start
            if declare:
                await amqp.declare_topology(connection, self.settings.partitions)
            else:
                await amqp.check_topology(connection, self.settings.partitions)
            publisher = await amqp.Publisher.open(
                connection, deadline=self.settings.publish_timeout_seconds, declare=declare
            )
        except BaseException:
            await connection.close()
            raise
        return connection, publisher

    async def _attempt(self) -> tuple[AbstractRobustConnection, amqp.Publisher]:
        """One connection attempt with its deadline, run as its own task: aiormq may swallow
        the cancellation of an RPC while a channel opens, so `asyncio.timeout` around the
        attempt could wait forever. Past the deadline the attempt is cancelled and, if it
        does not stop, abandoned (a connection it still opens is closed when it does)."""
        attempt = asyncio.create_task(self._open_rabbit(), name="rabbitmq connect attempt")
        deadline = max(self.settings.publish_timeout_seconds, CONNECT_ATTEMPT_MIN_SECONDS)
        done, _ = await asyncio.wait({attempt}, timeout=deadline)
        if attempt in done:
            return attempt.result()
        attempt.cancel()
        await asyncio.wait({attempt}, timeout=TASK_STOP_SECONDS)
        if not attempt.done():
            log.warning("a RabbitMQ connection attempt ignored its cancellation; abandoned")
        attempt.add_done_callback(_close_late_connection)
        raise TimeoutError(f"no connection to RabbitMQ within {deadline:.0f}s")

    async def _connect_until_done(self, tried: asyncio.Event) -> None:
        """Connect to RabbitMQ, retrying with capped backoff; each attempt has a deadline
        (a port that accepts and never speaks AMQP does not stall it)."""
        delay = RECONNECT_FIRST_DELAY
        while True:
            try:
                self.rabbit, self.publisher = await self._attempt()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                tried.set()
                self.rabbit_pending = f"{exc.__class__.__name__}: {exc}"[:200]
                log.warning("RabbitMQ unavailable (%s); trying again in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_DELAY)
                continue
            self.rabbit_pending = None
            tried.set()
            log.info("connected to RabbitMQ")
            return

    def rabbit_blocked(self) -> bool:
        """Whether a resource alarm (memory, disk) on the broker blocks this connection."""
        return self.rabbit is not None and is_blocked(self.rabbit)

    def rabbit_connected(self) -> bool:
        return self.rabbit is not None and is_connected(self.rabbit)

    def _rabbit_check(self) -> str:
        if self.rabbit is None:
            problem = f"unavailable ({self.rabbit_pending})"
        elif self.rabbit_blocked():
            problem = "blocked by a resource alarm"
        elif not is_connected(self.rabbit):
            problem = "connection closed"
        else:
            return "ok"
        # Optional to this service: it stays ready and says what does not work.
        if self.rabbit_optional:
            return f"degraded: {problem}; publishes wait in the outbox"
        return f"error: {problem}"

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
        _open.discard(self)
        await stop_tasks(self.tasks)
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
        if self.rabbit is not None or self.rabbit_optional:
            checks["rabbitmq"] = self._rabbit_check()
        for consumer in self.consumers:
            trouble = consumer.trouble
            checks[f"consumer {consumer.spec.name}"] = (
                "ok" if trouble is None else f"error: {trouble}"
            )
        return checks
