"""The SQS consumer: CloudTrail calls in, targeted snapshots out, messages deleted last.

Safety rules, in order of a message's life:
- a message that cannot be read as an event is made visible again at once and never
  deleted, so the queue's redrive policy moves it to the dead-letter queue after
  `maxReceiveCount` receives (counted as `malformed`); the consumer goes on;
- a well-formed event that needs no action (a failed call, tags on an instance) is deleted;
- a security-group call on a quiet group is described at once (`leading.py`); any other
  waits in its account-region window; when the window closes the named groups are described once and published (`source: event`, up to `batch_size`
  groups a message) with the callers, each caller listing the groups its call named;
  only after RabbitMQ confirmed every snapshot are the window's messages deleted. If anything fails before that, the messages reappear
  after the visibility timeout and are handled again: duplicates are harmless because
  the state is always described afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from secmonkey.collector.cloudtrail import metrics
from secmonkey.collector.cloudtrail.api_calls import ApiCall, MalformedEvent, parse_body
from secmonkey.collector.cloudtrail.batches import snapshot_batches
from secmonkey.collector.cloudtrail.describe import Described, describe_groups
from secmonkey.collector.cloudtrail.leading import LeadingEdge
from secmonkey.collector.cloudtrail.marks import record_marks
from secmonkey.collector.cloudtrail.region import describe_region
from secmonkey.collector.cloudtrail.sqs import EventQueue, receive_count
from secmonkey.collector.cloudtrail.vpcs import RecentVpcs
from secmonkey.collector.cloudtrail.window import Window, Windows
from secmonkey.collector.credentials import AwsClients, aws_error
from secmonkey.collector.settings import Settings
from secmonkey.collector.sweeper import routing_key
from secmonkey.common import accounts, history_reads, storage
from secmonkey.common.amqp import Publisher
from secmonkey.common.documents import Account
from secmonkey.common.messages import (
    SNAPSHOTS_EXCHANGE,
    SnapshotBatch,
    utcnow,
)
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PENDING_RECEIPTS = 5000
PUBLISH_ATTEMPTS = 6
ACCOUNT_CACHE_SECONDS = 30.0  # an account disabled or added takes effect within this


class EventConsumer:
    """Long-polls the events queue and turns each window of calls into snapshots."""

    def __init__(
        self, settings: Settings, db: Database, publisher: Publisher, clients: AwsClients
    ) -> None:
        self.settings = settings
        self.db = db
        self.publisher = publisher
        self.clients = clients
        # Own threads: describes and SQS calls never wait behind (or block) sweep reads.
        self._executor = ThreadPoolExecutor(
            settings.events_concurrency + 2, thread_name_prefix="events"
        )
        self.queue = EventQueue(settings, clients, self._executor)
        self.windows = Windows()
        self.leading = LeadingEdge(
            settings.events_window_seconds,
            settings.events_leading_per_second,
            settings.events_leading_burst,
        )
        self._describes = asyncio.Semaphore(settings.events_concurrency)
        self.vpcs = RecentVpcs()
        self._poller: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._accounts: dict[str, tuple[float, Account | None]] = {}
        self._flushes: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._room.set()

    async def _in_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        self._poller = asyncio.create_task(self.run(), name="cloudtrail-events")
        self._refresher = asyncio.create_task(self._refresh_accounts(), name="events-accounts")
        log.info("consuming CloudTrail events from %s", self.queue.url)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop receiving, flush the open windows now, wait for flushes in progress."""
        for task in (self._poller, self._refresher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for window in self.windows.open_windows():
            timer = self._timers.pop(id(window), None)
            if timer is not None:
                timer.cancel()
            self.windows.close(window)
            self._spawn(self._flush(window))
        if self._flushes:
            await asyncio.wait(set(self._flushes), timeout=grace)
        for task in list(self._flushes):
            task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def run(self) -> None:
        """Receive forever; an SQS failure is logged and retried with backoff."""
        delay = 0.5
        while True:
            await self._room.wait()
            try:
                messages = await self.queue.receive()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.SQS_ERRORS.labels("ReceiveMessage").inc()
                log.warning("receiving events failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 0.5
            crowded = _named_more_than_once(messages)
            for message in messages:
                await self.accept(message, crowded)

    # -- one message --------------------------------------------------------------------

    async def accept(self, message: dict[str, Any], crowded: frozenset[str] = frozenset()) -> None:
        """Sort one SQS message: dead-letter path, delete, described at once, or into its
        window (`crowded`: groups other messages of the same receive name too, which a
        window describes once for all of them)."""
        receipt = message["ReceiptHandle"]
        try:
            parsed = parse_body(message.get("Body", ""))
        except MalformedEvent as exc:
            metrics.EVENTS.labels("malformed").inc()
            received = receive_count(message)
            log.warning(
                "malformed event %s (receive %d), left for the dead-letter queue: %s",
                message.get("MessageId"),
                received,
                exc,
            )
            await self.queue.release(receipt, received)
            return
        if not isinstance(parsed, ApiCall):
            metrics.EVENTS.labels("ignored").inc()
            log.debug("ignored event %s: %s", parsed.event_id, parsed.reason)
            await self.queue.delete([receipt])
            return
        if crowded.isdisjoint(parsed.group_ids) and self.leading.take(parsed, self.windows):
            alone = Window(parsed.account_id, parsed.region)
            alone.add(parsed, receipt)
            metrics.EVENTS.labels("handled").inc()
            metrics.LEADING.inc()
            self._spawn(self._flush(alone))
            return
        window, opened, new = self.windows.add(parsed, receipt)
        metrics.EVENTS.labels("handled" if new else "duplicate").inc()
        if opened:
            self._timers[id(window)] = self._spawn(self._flush_later(window))
        if self.windows.pending_receipts >= MAX_PENDING_RECEIPTS:
            self._room.clear()

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)
        return task

    async def _flush_later(self, window: Window) -> None:
        await asyncio.sleep(self.settings.events_window_seconds)
        self._timers.pop(id(window), None)
        self.windows.close(window)
        self.leading.described(window)
        if self.windows.pending_receipts < MAX_PENDING_RECEIPTS:
            self._room.set()
        await self._flush(window)

    # -- one window -----------------------------------------------------------------------

    async def _flush(self, window: Window) -> None:
        try:
            async with self._describes:
                done = await self.process(window)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "events of %s/%s not processed; they return after the visibility timeout",
                window.account_id,
                window.region,
            )
            return
        finally:
            if self.windows.pending_receipts < MAX_PENDING_RECEIPTS:
                self._room.set()
        if done:
            await self.queue.delete(window.receipts)

    async def process(self, window: Window) -> bool:
        """Describe and publish one window; True when its messages may be deleted."""
        account = await self._account(window.account_id)
        if account is None or not accounts.is_monitored(account) or not _covers(account, window):
            metrics.EVENTS.labels("unmonitored").inc(len(window.calls))
            log.info(
                "%d event(s) of %s/%s, which is not monitored: dropped",
                len(window.calls),
                window.account_id,
                window.region,
            )
            return True
        group_ids = list(window.ids)
        for name in window.deleted_names:
            for group_id in await self._stored_ids_named(window, name):
                if group_id not in group_ids:
                    group_ids.append(group_id)
        names = [n for n in window.names if n not in window.deleted_names]
        try:
            started = time.monotonic()
            described = await self._in_thread(self._describe, account, window, group_ids, names)
            describe_seconds = time.monotonic() - started
        except Exception as exc:
            error = aws_error(exc, f"events of {window.account_id}/{window.region}")
            metrics.DESCRIBES.labels("failed").inc()
            self.clients.forget(account.id)
            log.warning("%s; retried when the events return", error)
            return False
        metrics.DESCRIBES.labels("ok").inc()
        batches = snapshot_batches(window, described, self.settings.batch_size)
        started = time.monotonic()
        await self._publish(window, batches)
        publish_seconds = time.monotonic() - started
        if window.calls:
            await storage.with_retry(
                lambda: record_marks(self.db, window, described), what="recording event marks"
            )
        now = utcnow()
        for call in window.calls.values():
            metrics.EVENT_DELAY.observe(max(0.0, (now - call.at).total_seconds()))
        log.info(
            "%d event(s) on %s/%s: %d group(s) published, %d missing "
            "(window %.2fs, describe %.2fs, publish %.2fs)",
            len(window.calls),
            window.account_id,
            window.region,
            len(described.groups),
            len(described.missing),
            time.monotonic() - window.opened,
            describe_seconds,
            publish_seconds,
            extra={"account_id": window.account_id, "region": window.region},
        )
        return True

    async def _account(self, account_id: str) -> Account | None:
        """The account document, cached briefly: the hot path should not wait on MongoDB."""
        cached = self._accounts.get(account_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < ACCOUNT_CACHE_SECONDS:
            return cached[1]
        account = await accounts.get_account(self.db, account_id)
        self._accounts[account_id] = (now, account)
        return account

    async def _refresh_accounts(self) -> None:
        """Keep every monitored account cached, so a window never waits for its account."""
        while True:
            try:
                started = time.monotonic()
                monitored = await accounts.monitored_accounts(self.db)
                for account in monitored:
                    self._accounts[account.id] = (started, account)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("could not refresh the accounts cache: %s", exc)
            await asyncio.sleep(ACCOUNT_CACHE_SECONDS / 2)

    def _describe(
        self, account: Account, window: Window, group_ids: list[str], names: list[str]
    ) -> Described:
        if window.topology:
            return describe_region(self.clients, account, window.region, group_ids)
        ec2 = self.clients.client(account, "ec2", window.region)
        known = self.vpcs.known(account.id, window.region)
        described = describe_groups(ec2, group_ids, names, known)
        self.vpcs.remember(
            account.id,
            window.region,
            {v: s for v, s in described.vpcs.items() if v not in known},
        )
        return described

    async def _stored_ids_named(self, window: Window, name: str) -> list[str]:
        """A delete by `groupName`: the group is gone, so its ID comes from the history."""
        ids = await storage.with_retry(
            lambda: history_reads.active_group_ids_named(
                self.db, window.account_id, window.region, name
            ),
            what="resolving a deleted group's name",
        )
        if not ids:
            log.warning(
                "DeleteSecurityGroup of %r in %s/%s: no stored group by that name",
                name,
                window.account_id,
                window.region,
            )
        return ids

    async def _publish(self, window: Window, batches: list[SnapshotBatch]) -> None:
        """Publish, confirmed, retrying in place a few times before giving the window back."""
        if not batches:
            return
        key = routing_key(
            self.settings.routing_prefix, window.account_id, window.region, self.settings.partitions
        )
        messages = [(key, b, f"{b.sweep_id}:{n}") for n, b in enumerate(batches)]
        delay = 0.2
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                await self.publisher.publish_many(SNAPSHOTS_EXCHANGE, messages)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt == PUBLISH_ATTEMPTS:
                    raise
                log.warning("publishing event snapshots failed (%s); retry in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                metrics.EVENT_SNAPSHOTS.inc(len(batches))
                return


def _named_more_than_once(messages: list[dict[str, Any]]) -> frozenset[str]:
    """The group IDs that several calls of one receive name (a backlog, a burst)."""
    seen: set[str] = set()
    twice: set[str] = set()
    for message in messages:
        try:
            parsed = parse_body(message.get("Body", ""))
        except MalformedEvent:
            continue
        if isinstance(parsed, ApiCall):
            for group_id in parsed.group_ids:
                (twice if group_id in seen else seen).add(group_id)
    return frozenset(twice)


def _covers(account: Account, window: Window) -> bool:
    return account.regions is None or window.region in account.regions
