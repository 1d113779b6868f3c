"""Findings to AWS Security Hub (ASFF), per opted-in account: see `export`."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from secmonkey.collector.securityhub.export import SecurityHubExporter, queue_spec
from secmonkey.collector.settings import Settings
from secmonkey.common.amqp import Consumer
from secmonkey.common.runtime import Runtime


@dataclass
class SecurityHubExport:
    exporter: SecurityHubExporter
    consumer: Consumer

    @classmethod
    async def start(cls, settings: Settings, runtime: Runtime) -> SecurityHubExport:
        assert runtime.rabbit is not None
        exporter = SecurityHubExporter(settings, runtime.db)
        # Prefetch sets how many messages' findings can share one BatchImportFindings call.
        consumer = Consumer(
            runtime.rabbit,
            queue_spec(settings),
            exporter.handle,
            prefetch=200,
            declare=settings.declare_at_start,
        )
        await consumer.start()
        runtime.consumers.append(consumer)
        return cls(exporter, consumer)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.consumer.stop()
        await self.exporter.close()


__all__ = ["SecurityHubExport", "SecurityHubExporter", "queue_spec"]
