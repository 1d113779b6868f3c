"""The auditor service: the snapshot consumer, periodic maintenance, health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI

from secmonkey.auditor.consumer import queue_spec, start_consumer
from secmonkey.auditor.deletion_hold import HoldPolicy
from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig, load_rules
from secmonkey.auditor.settings import Settings
from secmonkey.common.chain_anchor import target_of
from secmonkey.common.health import health_router
from secmonkey.common.runtime import Runtime
from secmonkey.common.storage import is_transient, with_retry

log = logging.getLogger(__name__)


async def change_control(auditor: Auditor, settings: Settings) -> None:
    """Seal history from before the chain (once), then each period: overdue reviews and,
    once the process has run `auditor_anchor_after_seconds`, the daily anchor (a replica
    restarting in a loop does not anchor; the day's anchor comes from a settled one)."""
    await with_retry(auditor.seal_history, what="sealing history from before the chain")
    loop = asyncio.get_running_loop()
    anchor_from = loop.time() + settings.auditor_anchor_after_seconds
    while True:
        try:
            await auditor.raise_overdue_reviews()
            if loop.time() >= anchor_from:
                await auditor.anchor_daily(target_of(settings))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                log.exception("change control maintenance failed")
            else:
                log.warning("change control skipped: the database is unavailable (%s)", exc)
        await asyncio.sleep(settings.auditor_review_scan_seconds)


async def maintenance(auditor: Auditor, period: float, expiry_period: float) -> None:
    """Publish events a stopped run left in the outbox; expire justifications.

    The expiry scan reads every justified issue (a full scan on FerretDB), so it runs less
    often; a group seen in the meantime has its expired justification noticed at once.
    """
    loop = asyncio.get_running_loop()
    next_expiry = loop.time() + expiry_period
    while True:
        await asyncio.sleep(period)
        try:
            await auditor.republish_outbox(timedelta(seconds=max(period, 30.0)))
            if loop.time() >= next_expiry:
                next_expiry = loop.time() + expiry_period
                await auditor.expire_justifications()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                log.exception("maintenance failed")
                continue
            log.warning("maintenance skipped: the database is unavailable (%s)", exc)


def create_app(settings: Settings | None = None, rules: RulesConfig | None = None) -> FastAPI:
    settings = settings or Settings()
    # A broken rules file stops the service here, before it consumes anything.
    rules = rules if rules is not None else load_rules(settings.rules_file)
    state: dict[str, Runtime] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.open(settings)
        state["runtime"] = runtime
        auditor = Auditor(
            runtime.db,
            rules,
            runtime.publisher if settings.auditor_publish_events else None,
            context_ttl=settings.auditor_context_ttl,
            read_concurrency=settings.auditor_read_concurrency,
            hold=HoldPolicy(
                settings.auditor_deletion_hold_share, settings.auditor_deletion_hold_min_groups
            ),
        )
        await with_retry(auditor.ensure_lookups, what="filing search lookups")
        assert runtime.rabbit is not None
        spec = queue_spec(settings.auditor_queue, settings.auditor_routing_keys)
        consumer = await start_consumer(
            runtime.rabbit,
            auditor,
            spec,
            prefetch=settings.prefetch,
            declare=settings.declare_at_start,
        )
        runtime.consumers.append(consumer)
        runtime.tasks.append(
            asyncio.create_task(
                maintenance(
                    auditor, settings.auditor_maintenance_seconds, settings.auditor_expiry_seconds
                )
            )
        )
        runtime.tasks.append(asyncio.create_task(change_control(auditor, settings)))
        app.state.auditor = auditor
        try:
            yield
        finally:
            await consumer.stop()
            await runtime.close()
            state.pop("runtime", None)

    app = FastAPI(title="secmonkey auditor", lifespan=lifespan)
    app.include_router(health_router(lambda: state.get("runtime")))
    return app
