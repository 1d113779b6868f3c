"""Auditor replicas share out the snapshot partitions through leases.

Each partition queue has a single active consumer, but that alone would make the first
replica active on every partition. So each replica claims partitions through a lease per
partition (`secmonkey.common.lease`: unique inserts, safe on FerretDB) and consumes only
the queues of the partitions it holds. Every replica heartbeats in `auditor_members`;
with `m` live members each aims at `ceil(N / m)` partitions: a new replica gets its
share as the others hand theirs over, and the partitions of a replica that died are
taken over once its leases expire (`lease_seconds`).

A partition changes hands only after its old holder stopped: it cancels its consumer,
lets the messages in hand finish, then releases the lease; a holder that cannot renew in
time stops handling before its term ends on the database (the lease is judged on its own
clock), and its consumer's gate refuses messages meanwhile. So one account-region is
handled by one replica at a time, whatever the database's isolation (FerretDB has none
for conditional writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import zlib
from collections.abc import Callable
from datetime import timedelta

from aio_pika.abc import AbstractRobustConnection

from secmonkey.common import amqp
from secmonkey.common.lease import Lease, renew_all
from secmonkey.common.messages import utcnow
from secmonkey.common.partitions import partition_of_key
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)

LEASES = "auditor_leases"
MEMBERS = "auditor_members"
HANDOVERS_PER_ROUND = 2
RENEWALS_PER_TERM = 5
BROKER_STEP = 30.0  # seconds a consumer's start or stop may take (renewals do not wait)
LEGACY_LEASE = "partition:legacy"
LEGACY = -1  # the single queue of a release before partitions, drained then deleted


class PartitionClaims:
    """Claims partitions, consumes the held ones' queues, hands over the rest."""

    def __init__(
        self,
        db: Database,
        connection: AbstractRobustConnection,
        queues: list[tuple[int | None, amqp.QueueSpec]],
        start_consumer: Callable[[amqp.QueueSpec, Callable[[], bool]], amqp.Consumer],
        *,
        holder: str,
        lease_seconds: float = 20.0,
        legacy: amqp.QueueSpec | None = None,
        consumers: list[amqp.Consumer] | None = None,
    ) -> None:
        self.db = db
        self.connection = connection
        self.specs = {p: spec for p, spec in queues if p is not None}
        self.partitions = len(self.specs)
        self.make_consumer = start_consumer
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.leases = {
            p: Lease(db, f"partition:{p:03d}", holder, lease_seconds, LEASES) for p in self.specs
        }
        if legacy is not None:
            self.specs[LEGACY] = legacy
            self.leases[LEGACY] = Lease(db, LEGACY_LEASE, holder, lease_seconds, LEASES)
        self.consuming: dict[int, amqp.Consumer] = {}
        self._renewing: dict[int, asyncio.Task[None]] = {}
        self.consumers = consumers if consumers is not None else []
        # Partitions tried first by this replica: spread so replicas do not all race for 0.
        self._order = sorted(self.specs, key=lambda p: zlib.crc32(f"{holder}:{p}".encode()))

    @property
    def held(self) -> set[int]:
        """The partitions this replica holds and consumes now."""
        return {p for p in self.consuming if self.leases[p].held}

    def holds_key(self, item_key: str) -> bool:
        """Whether this replica may write the item now (its partition is held)."""
        return partition_of_key(item_key, self.partitions) in self.held

    def holds_place(self, account_id: str, region: str) -> bool:
        """Whether this replica holds the account-region's partition now."""
        return self.holds_key(f"aws:{account_id}:{region}:-")

    async def run(self) -> None:
        """Claim and hand over partitions every third of a lease term, until cancelled.
        Renewals have a loop of their own, on a fixed cadence (`RENEWALS_PER_TERM` a term),
        so neither a broker that is slow to answer nor a slow renewal delays the next."""
        period = self.lease_seconds / 3
        renewals = asyncio.create_task(
            self._renewals(self.lease_seconds / RENEWALS_PER_TERM), name="partition renewals"
        )
        try:
            while True:
                try:
                    await self.tick()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database or broker away: the next round
                    log.warning("partition claims: %s", exc)
                await asyncio.sleep(period)
        finally:
            renewals.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewals
            for task in list(self._renewing.values()):
                task.cancel()
            await self.stop()

    async def _renewals(self, period: float) -> None:
        """Start a renewal of the consumed partitions every `period`, without waiting for
        the last one to answer (one in flight per partition at most): a write that takes
        longer than `period` delays the next by its own excess only, so a lease survives
        writes of up to half a term (the sequential renew-then-sleep lost it past a third)."""
        while True:
            self.renew_in_background()
            await asyncio.sleep(period)

    def renew_in_background(self) -> None:
        """Start one renewal of every consumed partition that has none in flight."""
        due = [p for p in self.consuming if p not in self._renewing]
        if not due:
            return
        task = asyncio.create_task(self._renew(due), name=f"renew {len(due)} partitions")
        for p in due:
            self._renewing[p] = task
        task.add_done_callback(functools.partial(self._renewed, due))

    def _renewed(self, partitions: list[int], task: asyncio.Task[None]) -> None:
        for p in partitions:
            if self._renewing.get(p) is task:
                del self._renewing[p]

    async def _renew(self, partitions: list[int]) -> None:
        """Renew these partitions' leases with one write (`renew_all`)."""
        try:
            await renew_all([self.leases[p] for p in partitions])
        except Exception as exc:  # the database away: our clock ends the terms
            log.warning("renewing partitions %s: %s", partitions, exc)

    async def renew(self) -> None:
        """Renew the lease of every partition consumed, together, and wait for the answer;
        a lost one is stopped by `tick`."""
        await self._renew(list(self.consuming))

    async def tick(self) -> None:
        target = await self._target()
        for p, consumer in list(self.consuming.items()):
            if not self.leases[p].held and p not in self._renewing:
                # Lost, or not renewed in time. While a renewal is still in flight the
                # consumer stays (its gate refuses messages meanwhile): it stops only if
                # the renewal fails.
                await self._stop(p, release=False)
            elif consumer.refused:  # messages left unacknowledged: restart to get them back
                await self._stop(p, release=False)
        numbered = [p for p in self.consuming if p != LEGACY]
        surplus = max(0, len(numbered) - target)
        # More than our share: hand some over, a few per round so that draining them
        # never delays the renewal of the others past their term.
        for p in sorted(numbered, reverse=True)[: min(surplus, HANDOVERS_PER_ROUND)]:
            await self._stop(p, release=True)
        for p in self._order:
            if p in self.consuming or p not in self.specs:
                continue
            if p != LEGACY and len([q for q in self.consuming if q != LEGACY]) >= target:
                continue
            if await self.leases[p].acquire():
                await self._start(p)
        if LEGACY in self.consuming:
            await self._retire_legacy_if_empty()

    async def _target(self) -> int:
        """Our share, after saying we are alive: with N partitions and m live replicas,
        `ceil(N / m)`, but only `floor(N / m)` while some live replica holds fewer than
        that (so a replica that arrives last is not left with none)."""
        now = utcnow()
        members = self.db[MEMBERS]
        await members.update_one({"_id": self.holder}, {"$set": {"seen_at": now}}, upsert=True)
        alive_since = now - timedelta(seconds=self.lease_seconds)
        live = [
            m["_id"] for m in await members.find({"seen_at": {"$gte": alive_since}}).to_list(None)
        ]
        await members.delete_many({"seen_at": {"$lt": now - timedelta(hours=1)}})
        count = max(1, len(live))
        base, ceiling = self.partitions // count, math.ceil(self.partitions / count)
        held: dict[str, int] = dict.fromkeys(live, 0)
        for lease in await self.db[LEASES].find({"expires_at": {"$gt": now}}).to_list(None):
            numbered = lease["lease"].startswith("partition:") and lease["lease"] != LEGACY_LEASE
            if numbered and lease["holder"] in held:
                held[lease["holder"]] += 1
        starving = any(n < base for n in held.values())
        return base if starving and base > 0 else ceiling

    async def _start(self, p: int) -> None:
        lease = self.leases[p]
        consumer = self.make_consumer(self.specs[p], lambda: lease.held)
        try:
            async with asyncio.timeout(BROKER_STEP):
                await consumer.start()
        except Exception:
            with contextlib.suppress(Exception):
                await consumer.stop()
            await lease.release()
            raise
        self.consuming[p] = consumer
        self.consumers.append(consumer)
        log.info("consuming partition %s (%s)", p, self.specs[p].name)

    async def _stop(self, p: int, *, release: bool) -> None:
        consumer = self.consuming.pop(p)
        with contextlib.suppress(ValueError):
            self.consumers.remove(consumer)
        with contextlib.suppress(TimeoutError):  # a broker not answering: the channel goes
            async with asyncio.timeout(BROKER_STEP):
                await consumer.stop(drain=self.lease_seconds / 2)
        if release:
            await self.leases[p].release()
        log.info("stopped consuming partition %s (%s)", p, "handed over" if release else "lost")

    async def _retire_legacy_if_empty(self) -> None:
        channel = await self.connection.channel()
        try:
            queue = await channel.declare_queue(self.specs[LEGACY].name, passive=True)
            if queue.declaration_result.message_count:
                return
            await self._stop(LEGACY, release=False)
            await queue.delete(if_unused=False, if_empty=True)
            log.info("the single queue %s is drained and deleted", self.specs[LEGACY].name)
            await self.leases[LEGACY].release()
            del self.specs[LEGACY]
        finally:
            if not channel.is_closed:
                await channel.close()

    async def stop(self) -> None:
        """Hand every partition over at once (a graceful stop)."""
        for p in list(self.consuming):
            with contextlib.suppress(Exception):
                await self._stop(p, release=True)
        with contextlib.suppress(Exception):
            await self.db[MEMBERS].delete_one({"_id": self.holder})
