"""Sweeping one account: every region read concurrently, published as snapshots.

A SweepRequest names one account (and maybe regions). Its regions are read in worker
threads (boto3 blocks), at most `sweep_concurrency` account-regions at once per replica,
so a sweep of many accounts takes about as long as its slowest region. Each region ends
with exactly one SweepCompleted: `complete: true` with every group ID only when every
page of every call was read; otherwise `complete: false` with the error and no groups.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from aio_pika.abc import AbstractIncomingMessage

from secmonkey.collector import metrics, sweep_status
from secmonkey.collector.credentials import AwsClients, AwsError, aws_error
from secmonkey.collector.flowlogs.attach import attach_usage
from secmonkey.collector.heartbeat import Heartbeat
from secmonkey.collector.reader import IncompleteRead, RegionRead, enabled_regions, read_region
from secmonkey.collector.settings import Settings
from secmonkey.collector.topology.region import read_region_with_topology
from secmonkey.common import accounts, sweep_requests
from secmonkey.common.amqp import Publisher
from secmonkey.common.documents import Account
from secmonkey.common.errors import TransientError
from secmonkey.common.messages import (
    SNAPSHOTS_EXCHANGE,
    SnapshotBatch,
    SweepCompleted,
    SweepRequest,
    parse_message,
    utcnow,
)
from secmonkey.common.partitions import snapshot_routing_key
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)
T = TypeVar("T")


def routing_key(prefix: str, account_id: str, region: str, partitions: int = 0) -> str:
    """`aws.<account>.<region>.<partition>` in production: the auditor's partition queues
    bind `aws.*.*.<partition>` (`secmonkey.common.partitions`)."""
    return snapshot_routing_key(prefix, account_id, region, partitions)


@dataclass
class RegionResult:
    account_id: str
    region: str
    complete: bool
    group_ids: list[str] = field(default_factory=list)
    batches: int = 0
    error: str | None = None
    error_code: str | None = None


def snapshot_batches(
    sweep_id: str, account_id: str, region: str, read: RegionRead, size: int
) -> list[SnapshotBatch]:
    """The region's groups cut into SnapshotBatch messages of at most `size` groups."""
    batches = []
    for start in range(0, len(read.groups), size):
        chunk = read.groups[start : start + size]
        vpc_ids = sorted({g.config.vpc_id for g in chunk if g.config.vpc_id})
        batches.append(
            SnapshotBatch(
                sweep_id=sweep_id,
                account_id=account_id,
                region=region,
                observed_at=read.observed_at,
                groups=chunk,
                vpcs=[read.vpcs[v] for v in vpc_ids if v in read.vpcs],
                topology=read.topology if start == 0 else None,
            )
        )
    return batches


def _refusal(account_id: str, account: Account | None) -> tuple[str, str] | None:
    """Why a requested account is not swept (code, text), or None when it is."""
    if account is None:
        return "UnknownAccount", f"account {account_id} is not configured"
    if not account.enabled:
        return "AccountDisabled", f"account {account_id} is disabled"
    if not accounts.is_monitored(account):
        return "NotMonitored", f"account {account_id} is trusted, not monitored"
    return None


class Sweeper:
    """Handles SweepRequests: reads AWS, publishes snapshots, records status."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        publisher: Publisher,
        clients: AwsClients,
        executor: ThreadPoolExecutor,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.settings = settings
        self.heartbeat = heartbeat
        self.db = db
        self.publisher = publisher
        self.clients = clients
        self.executor = executor
        self._slots = asyncio.Semaphore(settings.sweep_concurrency)
        self.replica = settings.replica_id

    async def _in_thread(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args))

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """Consumer handler of the sweeps queue (a malformed request is dead-lettered)."""
        await self.sweep(parse_message(SweepRequest, message.body))

    async def sweep(self, request: SweepRequest) -> list[RegionResult]:
        """Sweep one account's regions; returns each region's outcome."""
        started = time.monotonic()
        await sweep_requests.record_received(
            self.db, request.sweep_id, request.account_id, request.reason, request.requested_at
        )
        account = await accounts.get_account(self.db, request.account_id)
        refusal = _refusal(request.account_id, account)
        if account is None or refusal is not None:
            code, text = refusal or ("UnknownAccount", "")
            log.warning("sweep %s: %s", request.sweep_id, text)
            await sweep_status.account_finished(
                self.db,
                request.sweep_id,
                request.account_id,
                self.replica,
                error=text,
                error_code=code,
            )
            return []

        credentials_error: AwsError | None = None
        try:
            await self._in_thread(self.clients.credentials, account)
        except Exception as exc:
            credentials_error = aws_error(exc)
            metrics.AWS_ERRORS.labels(credentials_error.code).inc()
            self.clients.forget(account.id)

        regions = list(request.regions or account.regions or [])
        if not regions and credentials_error is None:
            try:
                regions = await self._in_thread(self._enabled_regions, account)
            except Exception as exc:
                credentials_error = aws_error(exc, "DescribeRegions")
                metrics.AWS_ERRORS.labels(credentials_error.code).inc()
        if not regions:
            error = credentials_error or AwsError("NoRegions", "no enabled region found")
            log.warning("sweep %s of %s failed: %s", request.sweep_id, account.id, error)
            await sweep_status.account_finished(
                self.db,
                request.sweep_id,
                account.id,
                self.replica,
                error=str(error),
                error_code=error.code,
            )
            return []

        await sweep_status.account_started(
            self.db, request.sweep_id, account.id, regions, self.replica
        )
        outcomes = await asyncio.gather(
            *(self._sweep_region(request, account, r, credentials_error) for r in regions),
            return_exceptions=True,
        )
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            # Publishing or recording failed: the request is retried, nothing is marked done.
            raise failures[0]
        results = [o for o in outcomes if isinstance(o, RegionResult)]
        await sweep_status.account_finished(self.db, request.sweep_id, account.id, self.replica)
        if request.regions is None and all(r.complete for r in results):
            # Every region of the account read to the end: the watchdog's clock restarts.
            await sweep_status.account_complete(self.db, request.sweep_id, account.id)
            if self.heartbeat is not None:
                self.heartbeat.beat()
        metrics.ACCOUNT_SWEEP_SECONDS.observe(time.monotonic() - started)
        log.info(
            "swept %s: %d region(s), %d complete, %d group(s)",
            account.id,
            len(results),
            sum(r.complete for r in results),
            sum(len(r.group_ids) for r in results),
            extra={"sweep_id": request.sweep_id, "account_id": account.id},
        )
        return results

    def _enabled_regions(self, account: Account) -> list[str]:
        return enabled_regions(self.clients.client(account, "ec2", self.settings.aws_region))

    def _read(self, account: Account, region: str) -> RegionRead:
        if self.settings.topology_enabled:
            return read_region_with_topology(self.clients, account, region)
        return read_region(self.clients.client(account, "ec2", region))

    async def _sweep_region(
        self,
        request: SweepRequest,
        account: Account,
        region: str,
        known_error: AwsError | None,
    ) -> RegionResult:
        async with self._slots:
            started_at = utcnow()
            started = time.monotonic()
            await sweep_status.region_started(
                self.db, request.sweep_id, account.id, region, self.replica, started_at
            )
            error = known_error
            read: RegionRead | None = None
            if error is None:
                try:
                    read = await self._in_thread(self._read, account, region)
                except IncompleteRead as exc:
                    error = AwsError("IncompleteRead", str(exc))
                except Exception as exc:
                    error = aws_error(exc)
                if error is not None:
                    metrics.AWS_ERRORS.labels(error.code).inc()
            if read is None:
                assert error is not None
                result = RegionResult(
                    account.id, region, False, error=str(error), error_code=error.code
                )
                log.warning(
                    "region %s of %s not fully read: %s",
                    region,
                    account.id,
                    error,
                    extra={"sweep_id": request.sweep_id, "account_id": account.id},
                )
                observed_at = started_at
            else:
                if account.flow_logs:
                    await attach_usage(self.db, account.id, region, read)
                batches = snapshot_batches(
                    request.sweep_id, account.id, region, read, self.settings.batch_size
                )
                await self._publish_batches(request.sweep_id, account.id, region, batches)
                result = RegionResult(
                    account.id,
                    region,
                    True,
                    group_ids=[g.config.group_id for g in read.groups],
                    batches=len(batches),
                )
                observed_at = read.observed_at
                metrics.GROUPS_COLLECTED.inc(len(read.groups))
                metrics.BATCHES_PUBLISHED.inc(len(batches))
            completed = SweepCompleted(
                sweep_id=request.sweep_id,
                account_id=account.id,
                region=region,
                observed_at=observed_at,
                started_at=started_at,
                group_ids=result.group_ids,
                complete=result.complete,
                error=result.error,
            )
            await self._publish_completed(completed)
            outcome = "complete" if result.complete else "incomplete"
            metrics.REGION_SWEEPS.labels(outcome).inc()
            metrics.REGION_SWEEP_SECONDS.labels(outcome).observe(time.monotonic() - started)
            await sweep_status.region_finished(
                self.db,
                request.sweep_id,
                account.id,
                region,
                complete=result.complete,
                groups=len(result.group_ids),
                batches=result.batches,
                started_at=started_at,
                error=result.error,
                error_code=result.error_code,
                collector=self.replica,
            )
            return result

    async def _publish_batches(
        self, sweep_id: str, account_id: str, region: str, batches: list[SnapshotBatch]
    ) -> None:
        key = routing_key(
            self.settings.routing_prefix, account_id, region, self.settings.partitions
        )
        try:
            await self.publisher.publish_many(
                SNAPSHOTS_EXCHANGE,
                ((key, b, f"{sweep_id}:{account_id}:{region}:{n}") for n, b in enumerate(batches)),
            )
        except Exception as exc:
            raise TransientError(f"publishing snapshots of {account_id}/{region}: {exc}") from exc

    async def _publish_completed(self, completed: SweepCompleted) -> None:
        # Sent only after every batch of the region was confirmed, so it arrives after them.
        mid = f"{completed.sweep_id}:{completed.account_id}:{completed.region}:completed"
        try:
            await self.publisher.publish(
                SNAPSHOTS_EXCHANGE,
                routing_key(
                    self.settings.routing_prefix,
                    completed.account_id,
                    completed.region,
                    self.settings.partitions,
                ),
                completed,
                message_id=mid,
            )
        except Exception as exc:
            raise TransientError(f"publishing SweepCompleted: {exc}") from exc
