"""The collector's running parts, opened and closed together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from secmonkey.collector.accounts import load_accounts_file
from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.flowlogs.loop import FlowLogLoop
from secmonkey.collector.heartbeat import Heartbeat
from secmonkey.collector.organizations import Discovery
from secmonkey.collector.scheduler import Scheduler
from secmonkey.collector.settings import Settings
from secmonkey.collector.sweeper import Sweeper
from secmonkey.collector.watchdog import Watchdog
from secmonkey.common.amqp import Consumer, QueueSpec
from secmonkey.common.outbox import republish_forever
from secmonkey.common.runtime import Runtime
from secmonkey.common.tasks import stop_tasks

log = logging.getLogger(__name__)


@dataclass
class Collector:
    settings: Settings
    runtime: Runtime
    clients: AwsClients
    executor: ThreadPoolExecutor
    sweeper: Sweeper
    consumer: Consumer
    scheduler: Scheduler
    heartbeat: Heartbeat | None = None
    scheduler_task: asyncio.Task[None] | None = None
    watchdog_task: asyncio.Task[None] | None = None
    discovery_task: asyncio.Task[None] | None = None
    flowlog_task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, settings: Settings, runtime: Runtime) -> Collector:
        """Seed accounts, start consuming sweep requests, and compete for the schedule."""
        assert runtime.rabbit is not None and runtime.publisher is not None
        if settings.accounts_file is not None:
            await load_accounts_file(runtime.db, settings.accounts_file)
        clients = AwsClients(settings)
        executor = ThreadPoolExecutor(settings.sweep_concurrency, thread_name_prefix="aws")
        heartbeat = Heartbeat(settings) if settings.heartbeat_url else None
        sweeper = Sweeper(settings, runtime.db, runtime.publisher, clients, executor, heartbeat)
        consumer = Consumer(
            runtime.rabbit,
            QueueSpec(settings.sweeps_queue),
            sweeper.handle,
            prefetch=settings.prefetch,
            declare=settings.declare_at_start,
        )
        scheduler = Scheduler(settings, runtime.db, runtime.publisher)
        collector = cls(
            settings, runtime, clients, executor, sweeper, consumer, scheduler, heartbeat
        )
        await consumer.start()
        runtime.consumers.append(consumer)
        if settings.scheduler_enabled:
            collector.scheduler_task = asyncio.create_task(scheduler.run(), name="scheduler")
            resend = republish_forever(
                scheduler.outbox,
                settings.outbox_republish_seconds,
                settings.publish_timeout_seconds,
            )
            runtime.tasks.append(asyncio.create_task(resend, name="outbox"))
            if settings.watchdog_seconds > 0:
                watchdog = Watchdog(
                    settings, runtime.db, runtime.publisher, runtime.rabbit, scheduler.lease
                )
                collector.watchdog_task = asyncio.create_task(watchdog.run(), name="watchdog")
            if settings.flowlog_seconds > 0:
                flowlogs = FlowLogLoop(settings, runtime.db, clients, executor, scheduler.lease)
                collector.flowlog_task = asyncio.create_task(flowlogs.run(), name="flowlogs")
            if settings.organization_external_id:  # periodic, or when asked
                discovery = Discovery(
                    settings, runtime.db, runtime.publisher, clients, scheduler.lease
                )
                collector.discovery_task = asyncio.create_task(discovery.run(), name="discovery")
        log.info(
            "collector %s consuming %s (scheduler %s)",
            settings.replica_id,
            settings.sweeps_queue,
            "enabled" if settings.scheduler_enabled else "disabled",
        )
        return collector

    async def stop(self) -> None:
        """Stop taking work, hand the lease over at once, let worker threads finish."""
        with contextlib.suppress(Exception):
            await self.consumer.stop()
        await stop_tasks(
            (self.flowlog_task, self.watchdog_task, self.discovery_task, self.scheduler_task)
        )
        if self.scheduler_task is not None:
            await self.scheduler.stop()
        if self.heartbeat is not None:
            await self.heartbeat.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)
