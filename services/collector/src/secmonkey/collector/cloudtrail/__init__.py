"""Real-time reaction to security-group API calls (CloudTrail via EventBridge and SQS).

`RealtimeEvents.start` runs the SQS consumer and the missed-event check beside the
collector's sweeps; the collector's lifespan starts it when `events_queue_url` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from secmonkey.collector.cloudtrail.consumer import EventConsumer
from secmonkey.collector.cloudtrail.missed import MissedEventCheck
from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.settings import Settings
from secmonkey.common.runtime import Runtime

log = logging.getLogger(__name__)

__all__ = ["EventConsumer", "MissedEventCheck", "RealtimeEvents"]


@dataclass
class RealtimeEvents:
    consumer: EventConsumer
    missed: MissedEventCheck
    missed_task: asyncio.Task[None]

    @classmethod
    async def start(
        cls, settings: Settings, runtime: Runtime, clients: AwsClients
    ) -> RealtimeEvents:
        """Consume the events queue with the collector's AWS clients and publisher."""
        assert runtime.publisher is not None
        consumer = EventConsumer(settings, runtime.db, runtime.publisher, clients)
        consumer.start()
        missed = MissedEventCheck(
            runtime.db, settings.replica_id, settings.events_missed_check_seconds
        )
        task = asyncio.create_task(missed.run(), name="missed-events")
        log.info(
            "real-time events on: window %.1fs, sweeps every %.0fs",
            settings.events_window_seconds,
            settings.sweep_interval_seconds,
        )
        return cls(consumer, missed, task)

    async def stop(self) -> None:
        self.missed_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.missed_task
        await self.consumer.stop()
