"""The notifier as a FastAPI app: health, readiness and metrics, with the consumer in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from secmonkey.common import amqp
from secmonkey.common.health import health_router
from secmonkey.common.runtime import Runtime
from secmonkey.notifier.service import Notifier
from secmonkey.notifier.settings import Settings


def create_app(settings: Settings, *, queue: amqp.QueueSpec | None = None) -> FastAPI:
    """`queue` overrides the consumer queue built from the settings (tests use unique ones)."""
    state: dict[str, Runtime | Notifier] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Only the notifier's own queues are declared (not the whole topology), so a test
        # or benchmark on a unique queue leaves the production queues alone.
        runtime = await Runtime.open(settings, rabbit=False)
        try:
            runtime.rabbit = await amqp.connect(settings.amqp_url)
            runtime.publisher = await amqp.Publisher.open(runtime.rabbit)
            notifier = Notifier(settings, runtime.db, runtime.rabbit, runtime.publisher, spec=queue)
            await notifier.start()
            runtime.consumers.append(notifier.consumer)
        except BaseException:
            await runtime.close()
            raise
        state["runtime"], state["notifier"] = runtime, notifier
        app.state.notifier = notifier
        try:
            yield
        finally:
            await notifier.stop()
            await runtime.close()
            state.clear()

    def current_runtime() -> Runtime | None:
        runtime = state.get("runtime")
        return runtime if isinstance(runtime, Runtime) else None

    app = FastAPI(title="secmonkey notifier", lifespan=lifespan)
    app.include_router(health_router(current_runtime))
    return app
