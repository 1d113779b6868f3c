"""The collector service: FastAPI app whose lifespan runs the sweep consumer and scheduler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from secmonkey.collector.cloudtrail import RealtimeEvents
from secmonkey.collector.routes import router
from secmonkey.collector.securityhub import SecurityHubExport
from secmonkey.collector.service import Collector
from secmonkey.collector.settings import Settings
from secmonkey.common.health import health_router
from secmonkey.common.runtime import Runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    holder: dict[str, Runtime] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.open(settings)
        holder["runtime"] = runtime
        collector: Collector | None = None
        events: RealtimeEvents | None = None
        securityhub: SecurityHubExport | None = None
        try:
            collector = await Collector.start(settings, runtime)
            app.state.collector = collector
            if settings.events_queue_url:
                events = await RealtimeEvents.start(settings, runtime, collector.clients)
            app.state.events = events
            if settings.securityhub_export:
                securityhub = await SecurityHubExport.start(settings, runtime)
            app.state.securityhub = securityhub
            yield
        finally:
            app.state.collector = None
            holder.pop("runtime", None)
            if securityhub is not None:
                await securityhub.stop()
            if events is not None:
                await events.stop()
            if collector is not None:
                await collector.stop()
            await runtime.close()

    app = FastAPI(
        title="secmonkey collector",
        description="Reads every security group of every account and region; publishes snapshots.",
        lifespan=lifespan,
        # The collector's port serves probes, metrics and /scheduler only: nothing to document.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.include_router(health_router(lambda: holder.get("runtime")))
    app.include_router(router)
    return app
