"""The API service: `create_app(settings)` assembles routes, errors, auth and the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from secmonkey.api import metrics, problems, upkeep
from secmonkey.api.auth import KeyVerifier, ensure_key
from secmonkey.api.docs_pages import mount_docs
from secmonkey.api.http_headers import SecurityHeaders
from secmonkey.api.limits import BodyLimit, Limits
from secmonkey.api.main import api_router
from secmonkey.api.queries.dead_letters import refresh_depths
from secmonkey.api.queries.events import feed_before_republish
from secmonkey.api.settings import Settings
from secmonkey.api.web.console import mount as mount_console
from secmonkey.common.health import ops_app
from secmonkey.common.outbox import Outbox, republish_forever
from secmonkey.common.runtime import Runtime

log = logging.getLogger(__name__)

DESCRIPTION = """\
Every security group of every monitored AWS account: current configuration, full
history, audit issues, IP/CIDR search and the change feed.

Authenticate with an API key: `Authorization: Bearer smk_…`. Roles: `viewer` reads,
`auditor` also justifies issues, `admin` also manages accounts, subscriptions, the
allowlist, keys, sweeps and dead letters. Errors are RFC 9457 problem details.
"""


OUTBOX = "api_outbox"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Reads, searches and the console need only the database: RabbitMQ is connected in
        # the background, and what the API publishes waits in its outbox meanwhile.
        runtime = await Runtime.open(settings, rabbit_in_background=True)
        try:
            app.state.outbox = Outbox(
                runtime.db,
                OUTBOX,
                lambda: runtime.publisher,
                before_republish=feed_before_republish(runtime.db),
            )
            resend = republish_forever(
                app.state.outbox,
                settings.outbox_republish_seconds,
                settings.publish_timeout_seconds,
            )
            runtime.tasks.append(asyncio.create_task(resend, name="outbox"))
            app.state.verifier = KeyVerifier(runtime.db, settings.key_cache_seconds)
            app.state.auth_limiter = upkeep.limiter_of(runtime.db, app.state.outbox, settings)
            runtime.tasks.append(
                asyncio.create_task(
                    upkeep.expire_loop(
                        runtime.db, app.state.auth_limiter, settings.auth_failure_window_seconds
                    )
                )
            )
            if settings.bootstrap_admin_key is not None:
                await ensure_key(
                    runtime.db,
                    settings.bootstrap_admin_key.get_secret_value(),
                    name="bootstrap",
                    role="admin",
                )
            if runtime.rabbit is not None and settings.dead_letter_metrics_seconds > 0:
                depths = refresh_depths(
                    runtime.rabbit, settings.consumer_queues, settings.dead_letter_metrics_seconds
                )
                runtime.tasks.append(asyncio.create_task(depths, name="dead-letter depths"))
            app.state.runtime = runtime
            log.info("api ready", extra={"mongo_db": settings.mongo_db})
            yield
        finally:
            app.state.runtime = None
            await runtime.close()

    app = FastAPI(
        title="secmonkey",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.runtime = None
    problems.install(app)
    app.add_middleware(metrics.Measured)
    # Probes and metrics: an application of their own, served on `metrics_port`.
    app.state.ops = ops_app(lambda: app.state.runtime)
    app.include_router(api_router)
    mount_console(app, settings)
    mount_docs(app)
    app.add_middleware(SecurityHeaders)
    # Outermost: no body is read past its limit, by anything (authentication included).
    app.add_middleware(
        BodyLimit,
        limits=Limits(
            body_bytes=settings.max_body_bytes,
            form_bytes=settings.max_form_bytes,
            form_fields=settings.max_form_fields,
            form_field_bytes=settings.max_form_field_bytes,
        ),
    )
    return app
