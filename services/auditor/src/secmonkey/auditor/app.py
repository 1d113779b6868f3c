"""The auditor service: the snapshot consumer, periodic maintenance, health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from secmonkey.auditor.catalog import catalog
from secmonkey.auditor.consumer import SnapshotHandler, queue_spec, start_consumer
from secmonkey.auditor.deletion_hold import HoldPolicy
from secmonkey.auditor.partitions import LEASES, PartitionClaims
from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig, load_rules
from secmonkey.auditor.settings import Settings
from secmonkey.common import amqp, rule_catalog
from secmonkey.common.chain_anchor import target_of
from secmonkey.common.health import health_router
from secmonkey.common.lease import Lease
from secmonkey.common.review_chain import repair_review_chains
from secmonkey.common.runtime import Runtime
from secmonkey.common.storage import is_transient, with_retry

log = logging.getLogger(__name__)


async def change_control(auditor: Auditor, settings: Settings) -> None:
    """Seal history from before the chain (once), append any review decision a crash left
    out of its chain, then each period: overdue reviews and,
    once the process has run `auditor_anchor_after_seconds`, the daily anchor (a replica
    restarting in a loop does not anchor; the day's anchor comes from a settled one)."""
    await with_retry(auditor.seal_history, what="sealing history from before the chain")
    repaired = await with_retry(
        lambda: repair_review_chains(auditor.store.db), what="repairing the review chains"
    )
    if repaired:
        log.warning("appended %d review decision(s) a crash had left out of their chain", repaired)
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


async def maintenance(
    auditor: Auditor,
    period: float,
    expiry_period: float,
    lease: Lease | None = None,
    keep: Callable[[str], bool] | None = None,
) -> None:
    """Publish events a stopped run left in the outbox; expire justifications.

    The expiry scan reads every justified issue (a full scan on FerretDB), so it runs less
    often; a group seen in the meantime has its expired justification noticed at once.
    With replicas, the outbox is republished by the holder of the maintenance `lease`
    only, and each replica expires the justifications of the partitions it holds (`keep`).
    """
    loop = asyncio.get_running_loop()
    next_expiry = loop.time() + expiry_period
    while True:
        await asyncio.sleep(period)
        try:
            if lease is None or await lease.acquire():
                await auditor.republish_outbox(timedelta(seconds=max(period, 30.0)))
            if loop.time() >= next_expiry:
                next_expiry = loop.time() + expiry_period
                await auditor.expire_justifications(keep=keep)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                log.exception("maintenance failed")
                continue
            log.warning("maintenance skipped: the database is unavailable (%s)", exc)


async def summaries(auditor: Auditor, period: float, holds: Callable[[str, str], bool]) -> None:
    """Recompute the account-region summaries the API marked (justifications), of the
    partitions this replica holds."""
    while True:
        await asyncio.sleep(period)
        try:
            await auditor.settle_summaries(holds)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("summaries not settled: %s", exc)


async def _declare_partitions(
    connection: Any, queues: list[tuple[int | None, amqp.QueueSpec]], legacy: Any
) -> None:
    """Every partition's queue exists (and receives) before anyone holds it; the single
    queue of an earlier release stops receiving."""
    channel = await connection.channel()
    try:
        for _, spec in queues:
            await amqp.declare_queue(
                channel, spec, existing=await amqp.queue_exists(connection, spec.name)
            )
        if legacy is not None:
            await amqp.retire_unpartitioned(channel, legacy)
    finally:
        await channel.close()


async def start_partitions(
    runtime: Runtime, settings: Settings, auditor: Auditor, holder: str
) -> PartitionClaims:
    """Claim partitions in the background; consume the queues of those held."""
    assert runtime.rabbit is not None
    connection = runtime.rabbit
    base = queue_spec(settings.auditor_queue, settings.auditor_routing_keys)
    legacy = base if await amqp.queue_exists(connection, base.name) else None
    queues = amqp.auditor_queues(settings.partitions, base)
    if settings.declare_at_start:
        await _declare_partitions(connection, queues, legacy)
    else:  # made by `secmonkey admin provision`; this replica may only check
        missing = await amqp.check_queues(connection, [spec for _, spec in queues])
        if missing:
            raise amqp.NotProvisioned(missing)

    def consumer(spec: amqp.QueueSpec, gate: Callable[[], bool]) -> amqp.Consumer:
        auditor.partition_taken()  # what it remembers of its places is read again
        return amqp.Consumer(
            connection,
            spec,
            SnapshotHandler(auditor),
            prefetch=settings.prefetch,
            declare=settings.declare_at_start,
            gate=gate,
        )

    claims = PartitionClaims(
        runtime.db,
        connection,
        queues,
        consumer,
        holder=holder,
        lease_seconds=settings.auditor_lease_seconds,
        legacy=legacy,
        consumers=runtime.consumers,
    )
    runtime.tasks.append(asyncio.create_task(claims.run(), name="partition claims"))
    return claims


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
            message_concurrency=settings.auditor_message_concurrency,
            pass_size=settings.auditor_pass_size,
            hold=HoldPolicy(
                settings.auditor_deletion_hold_share, settings.auditor_deletion_hold_min_groups
            ),
            summary_delay=settings.auditor_summary_delay_seconds,
            own_places=settings.partitions > 0,  # one holder per account-region
            partitions=settings.partitions,
        )
        await with_retry(auditor.ensure_lookups, what="filing search lookups")
        await with_retry(auditor.ensure_rosters, what="building the group rosters")
        await rule_catalog.publish(runtime.db, catalog(rules))
        assert runtime.rabbit is not None
        lease: Lease | None = None
        keep: Callable[[str], bool] | None = None
        consumer: amqp.Consumer | None = None
        claims: PartitionClaims | None = None
        if settings.partitions > 0:
            # The process name and a token: two auditors in one process are two replicas.
            holder = f"{runtime.process}-{secrets.token_hex(3)}"
            claims = await start_partitions(runtime, settings, auditor, holder)
            app.state.partitions = claims
            keep = claims.holds_key
            lease = Lease(runtime.db, "maintenance", holder, settings.auditor_lease_seconds, LEASES)
        else:
            spec = queue_spec(settings.auditor_queue, settings.auditor_routing_keys)
            consumer = await start_consumer(
                runtime.rabbit,
                auditor,
                spec,
                prefetch=settings.prefetch,
                declare=settings.declare_at_start,
            )
            runtime.consumers.append(consumer)
        holds = claims.holds_place if claims is not None else (lambda _a, _r: True)
        runtime.tasks.append(
            asyncio.create_task(summaries(auditor, settings.auditor_lease_seconds, holds))
        )
        runtime.tasks.append(
            asyncio.create_task(
                maintenance(
                    auditor,
                    settings.auditor_maintenance_seconds,
                    settings.auditor_expiry_seconds,
                    lease,
                    keep,
                )
            )
        )
        runtime.tasks.append(asyncio.create_task(change_control(auditor, settings)))
        app.state.auditor = auditor
        try:
            yield
        finally:
            if consumer is not None:
                await consumer.stop()
            await auditor.summaries.stop()
            with contextlib.suppress(Exception):  # else: made again at the next sweep
                await asyncio.wait_for(auditor.summaries.flush(), 5.0)
            if lease is not None:
                with contextlib.suppress(Exception):
                    await lease.release()
            await runtime.close()
            state.pop("runtime", None)

    app = FastAPI(title="secmonkey auditor", lifespan=lifespan)
    app.include_router(health_router(lambda: state.get("runtime")))
    return app
