"""Attempt deliveries without letting one endpoint hold up the others.

Every attempt runs in its own task, bounded per target (webhook host, or the SMTP
server) and in all. A delivery whose target is busy waits its turn in memory for a
while, then goes back to the outbox in MongoDB; a failed attempt is rescheduled there
(see `outcomes`). The consumer only records deliveries and never waits for an endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import timedelta

from secmonkey.common.delivery_schedule import Delivery
from secmonkey.common.messages import utcnow
from secmonkey.notifier import metrics
from secmonkey.notifier.channels.base import Batch, Outcome, Sender, secrets_of
from secmonkey.notifier.deliveries import DeliveryStore
from secmonkey.notifier.notices import Notice
from secmonkey.notifier.outcomes import DeadLetters, Outcomes
from secmonkey.notifier.routing import Routes
from secmonkey.notifier.settings import Settings

log = logging.getLogger(__name__)

# Claimed deliveries a process keeps waiting in memory; beyond, they go back to the schedule.
_MAX_WAITING = 5000


class Attempts:
    """Runs attempts with bounded concurrency per target and in all.

    A delivery this process has claimed (a fresh one, or one the retry loop claimed)
    starts at once if its target has room; otherwise it waits in memory, in order, until
    an attempt to that target finishes — for at most half its lease, after which it is
    handed back to the schedule for whichever replica has room.
    """

    def __init__(
        self,
        settings: Settings,
        store: DeliveryStore,
        routes: Routes,
        senders: Mapping[str, Sender],
        dead_letters: DeadLetters,
    ) -> None:
        self.settings = settings
        self.store = store
        self.routes = routes
        self.senders = senders
        self.outcomes = Outcomes(settings, store, dead_letters)
        self._in_flight: dict[str, int] = defaultdict(int)
        self._total = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: dict[str, deque[tuple[float, Delivery]]] = defaultdict(deque)
        self._waiting_count = 0
        self._background: set[asyncio.Task[None]] = set()
        self._next_due = float("-inf")  # scan at once on start
        self._queued: dict[str, Awaitable[bool]] = {}
        self._active: dict[str, int] = {}

    # -- capacity -------------------------------------------------------------------------

    def has_capacity(self, target_key: str) -> bool:
        return (
            self._total < self.settings.max_in_flight
            and self._in_flight[target_key] < self.settings.per_target_concurrency
        )

    def _busy_targets(self) -> list[str]:
        limit = self.settings.per_target_concurrency
        busy = {key for key, n in self._in_flight.items() if n >= limit}
        return sorted(busy | {key for key, q in self._waiting.items() if q})

    def start(self, delivery: Delivery) -> bool:
        """Attempt a delivery this process has claimed, if its target has room."""
        key = delivery.target_key
        if not self.has_capacity(key):
            return False
        self._in_flight[key] += 1
        self._total += 1
        released = False

        def release_slot() -> None:
            """The send is over: the target's slot goes to the next delivery (once)."""
            nonlocal released
            if not released:
                released = True
                self._finished(key)

        task = asyncio.create_task(self._run(delivery, release_slot), name=f"deliver {delivery.id}")
        self._tasks.add(task)
        self._active[delivery.id] = self._active.get(delivery.id, 0) + 1

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._forget(delivery.id)
            release_slot()

        task.add_done_callback(done)
        return True

    async def submit(self, delivery: Delivery, *, queued: Awaitable[bool] | None = None) -> None:
        """Start a claimed delivery now, or queue it behind its target's attempts in flight.

        `queued` is the outbox insert still under way, when the send is started beside it
        rather than after it: the outcome is recorded only once it says the delivery is
        in the outbox (and not at all if another copy of it was there already).
        """
        if queued is not None:
            self._queued[delivery.id] = queued
        key = delivery.target_key
        if not self._waiting.get(key) and self.start(delivery):
            return
        if self._waiting_count >= _MAX_WAITING:
            self._queued.pop(delivery.id, None)
            await self.store.release(delivery.id, utcnow())
            self._expect_due(0)
            return
        deadline = time.monotonic() + self.settings.lease_seconds / 2
        self._waiting[key].append((deadline, delivery))
        self._waiting_count += 1
        self._active[delivery.id] = self._active.get(delivery.id, 0) + 1

    def is_active(self, delivery_id: str) -> bool:
        """Is this delivery being attempted, or waiting its turn, in this process?"""
        return delivery_id in self._active

    def _forget(self, delivery_id: str) -> None:
        count = self._active.get(delivery_id, 0) - 1
        if count > 0:
            self._active[delivery_id] = count
        else:
            self._active.pop(delivery_id, None)

    def _finished(self, key: str) -> None:
        self._in_flight[key] -= 1
        if self._in_flight[key] <= 0:
            del self._in_flight[key]
        self._total -= 1
        self._start_waiting([key, *self._waiting.keys()])

    def _start_waiting(self, keys: Iterable[str]) -> None:
        now = time.monotonic()
        for key in list(dict.fromkeys(keys)):
            queue = self._waiting.get(key)
            while queue and self.has_capacity(key):
                deadline, delivery = queue.popleft()
                self._waiting_count -= 1
                self._forget(delivery.id)
                if deadline < now:
                    self._hand_back(delivery)
                else:
                    self.start(delivery)
            if not queue:
                self._waiting.pop(key, None)

    def _expire_waiting(self) -> None:
        now = time.monotonic()
        for key, queue in list(self._waiting.items()):
            while queue and queue[0][0] < now:
                delivery = queue.popleft()[1]
                self._forget(delivery.id)
                self._hand_back(delivery)
                self._waiting_count -= 1
            if not queue:
                self._waiting.pop(key, None)

    def _hand_back(self, delivery: Delivery) -> None:
        self._queued.pop(delivery.id, None)
        self._expect_due(0)
        task = asyncio.create_task(self.store.release(delivery.id, utcnow()))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, grace: float) -> None:
        """Hand back what waits, let attempts in flight finish (up to `grace` s), cancel the rest."""
        waiting = [d for queue in self._waiting.values() for _, d in queue]
        self._waiting.clear()
        self._waiting_count = 0
        for delivery in waiting:
            with contextlib.suppress(Exception):
                await self.store.release(delivery.id, utcnow())
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        if self._background:
            await asyncio.wait(set(self._background), timeout=5)

    # -- the retry loop -------------------------------------------------------------------

    async def run_retries(self) -> None:
        """Look for due outbox entries when one is known to be due, and regularly anyway.

        The outbox is scanned (FerretDB has no index to help), so it is not read on every
        tick: only when a retry this process scheduled or an entry it handed back is
        due, and every `recovery_seconds` for entries whose claimant died.
        """
        forgotten = last_scan = float("-inf")
        while True:
            try:
                self._expire_waiting()
                now = time.monotonic()
                recovery = max(self.settings.retry_poll_seconds, self.settings.lease_seconds / 4)
                if self._next_due <= now or now - last_scan >= recovery:
                    self._next_due = float("inf")
                    last_scan = now
                    await self.retry_due()
                if now - forgotten > self.settings.lease_seconds:
                    forgotten = now
                    lease = timedelta(seconds=3 * self.settings.lease_seconds)
                    await self.store.forget_claims(utcnow() - lease)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retry loop failed; trying again")
            await asyncio.sleep(self.settings.retry_poll_seconds)

    def _expect_due(self, seconds: float) -> None:
        """An outbox entry will be due in `seconds`: scan for it then."""
        self._next_due = min(self._next_due, time.monotonic() + seconds)

    async def retry_due(self) -> int:
        """Claim and start every due delivery whose target has room; return how many started."""
        started = 0
        limit = max(100, 2 * self.settings.max_in_flight)
        excluded: list[str] | None = None
        while self._total < self.settings.max_in_flight:
            busy = self._busy_targets()
            if busy == excluded:
                break
            excluded = busy
            now = utcnow()
            docs = await self.store.due(now, limit, exclude_targets=busy)
            if busy:
                self._expect_due(self.settings.retry_poll_seconds)  # busy targets may have more
            for doc in docs:
                if not self.has_capacity(str(doc.get("target_key"))):
                    self._expect_due(self.settings.retry_poll_seconds)  # look again soon
                    continue
                claimed = await self.store.claim(doc["_id"], now, self.settings.lease_seconds)
                if claimed is not None and self.start(claimed):
                    started += 1
            if len(docs) < limit:
                break
        return started

    # -- one attempt ----------------------------------------------------------------------

    async def _run(self, delivery: Delivery, release_slot: Callable[[], None]) -> None:
        try:
            await self._attempt(delivery, release_slot)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The delivery stays pending; its lease expires and it is attempted again.
            log.exception("delivery %s could not be attempted", delivery.id)

    async def _attempt(self, delivery: Delivery, release_slot: Callable[[], None]) -> None:
        subscription = await self.routes.current(delivery.subscription_id)
        now = utcnow()
        if subscription is None or not subscription.enabled:
            if not await self._in_outbox(delivery):
                return
            await self.store.record(
                delivery,
                None,
                {
                    "at": now,
                    "status": "cancelled",
                    "last_error": "subscription deleted or disabled",
                },
            )
            return
        secrets = secrets_of(subscription)
        batch = Batch(
            delivery_id=delivery.id,
            kind=delivery.kind,
            notices=[Notice.of(e, self.settings.public_url) for e in delivery.parsed_events()],
            idempotency_key=delivery.event_id or delivery.id,
            secrets=secrets,
            created_at=delivery.created_at,
        )
        channel = subscription.channel.type
        sender = self.senders[channel]
        started = time.monotonic()
        try:
            outcome = await sender.send(subscription, batch)
        except Exception as exc:
            log.exception("the %s channel raised on delivery %s", channel, delivery.id)
            outcome = Outcome.retry(f"internal error: {type(exc).__name__}")
        duration = time.monotonic() - started
        release_slot()  # recording the outcome does not need the target
        metrics.ATTEMPT_SECONDS.labels(channel).observe(duration)
        if await self._in_outbox(delivery):
            retry_in = await self.outcomes.settle(delivery, channel, outcome, duration, secrets)
            if retry_in is not None:
                self._expect_due(retry_in)

    async def _in_outbox(self, delivery: Delivery) -> bool:
        """Wait for the outbox insert a send was started beside; False: leave it be."""
        queued = self._queued.pop(delivery.id, None)
        if queued is None:
            return True
        try:
            if await queued:
                return True
        except Exception:
            # The event was not acknowledged: its redelivery brings the delivery back.
            log.warning("delivery %s was sent but could not be queued", delivery.id)
            return False
        log.info("delivery %s was already queued elsewhere; leaving it to that copy", delivery.id)
        return False
