"""The schedule: every account swept every `interval`, by exactly one replica at a time.

Every replica competes for one lease document in `leases`; the holder renews it three
times per lease period and is the only one that schedules. A crashed holder stops
renewing, its lease expires, and the next replica to try takes it over, so scheduling
resumes within one lease period. Each account's next due time lives in `schedules` and
is claimed with a conditional update, so even a holder that lost its lease while paused
cannot request the same account twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from secmonkey.collector import accounts, metrics
from secmonkey.collector.dispatch import request_sweep
from secmonkey.collector.settings import Settings
from secmonkey.common import mongo
from secmonkey.common.amqp import Publisher
from secmonkey.common.documents import Account
from secmonkey.common.messages import utcnow
from secmonkey.common.mongo import Database

log = logging.getLogger(__name__)

LEASE_ID = "collector-scheduler"
PRUNE_EVERY_SECONDS = 3600.0


class Lease:
    """A time-limited lease in `leases`, taken and renewed with one conditional update."""

    def __init__(self, db: Database, name: str, holder: str, seconds: float) -> None:
        self.db = db
        self.name = name
        self.holder = holder
        self.seconds = seconds
        self._valid_until = 0.0

    @property
    def held(self) -> bool:
        """Whether this process may act as holder now (judged on its own monotonic clock)."""
        return time.monotonic() < self._valid_until

    async def acquire(self) -> bool:
        """Take the lease if free or expired, renew it if ours; True while we hold it."""
        asked = time.monotonic()
        now = utcnow()
        try:
            before = await self.db.leases.find_one_and_update(
                {"_id": self.name, "$or": [{"holder": self.holder}, {"expires_at": {"$lt": now}}]},
                {
                    "$set": {
                        "holder": self.holder,
                        "expires_at": now + timedelta(seconds=self.seconds),
                        "renewed_at": now,
                    }
                },
                upsert=True,
                return_document=ReturnDocument.BEFORE,
            )
        except DuplicateKeyError:
            # The document exists and another holder's lease has not expired.
            self._valid_until = 0.0
            return False
        if before is None or before.get("holder") != self.holder:
            await self.db.leases.update_one(
                {"_id": self.name, "holder": self.holder},
                {"$set": {"acquired_at": now}, "$inc": {"takeovers": 1}},
            )
            previous = None if before is None else before.get("holder")
            log.info("took the %s lease (previous holder: %s)", self.name, previous)
        # Counted from before the request left, so a slow answer only shortens our term.
        self._valid_until = asked + self.seconds
        return True

    async def release(self) -> None:
        """Let the lease go at once (a graceful stop hands over without waiting)."""
        self._valid_until = 0.0
        await self.db.leases.update_one(
            {"_id": self.name, "holder": self.holder}, {"$set": {"expires_at": utcnow()}}
        )

    async def current(self) -> dict[str, Any] | None:
        return await self.db.leases.find_one({"_id": self.name})


class Scheduler:
    """While holding the lease, queues a SweepRequest for every account that is due."""

    def __init__(self, settings: Settings, db: Database, publisher: Publisher) -> None:
        self.settings = settings
        self.db = db
        self.publisher = publisher
        self.lease = Lease(db, LEASE_ID, settings.replica_id, settings.scheduler_lease_seconds)

    def interval(self, account: Account) -> timedelta:
        if account.interval_minutes:
            return timedelta(minutes=account.interval_minutes)
        return timedelta(seconds=self.settings.sweep_interval_seconds)

    async def prune(self) -> int:
        """Delete sweep status older than the retention (FerretDB has no TTL indexes)."""
        cutoff = utcnow() - timedelta(days=self.settings.sweep_retention_days)
        answer = await self.db.sweeps.delete_many({"started_at": {"$lt": cutoff}})
        if answer.deleted_count:
            log.info("deleted %d sweep status document(s) before %s", answer.deleted_count, cutoff)
        return int(answer.deleted_count)

    async def run(self) -> None:
        """Renew or compete for the lease forever; schedule while it is ours."""
        next_tick = 0.0
        next_prune = 0.0
        pause = min(self.settings.renew_every, self.settings.scheduler_tick_seconds)
        try:
            while True:
                try:
                    leader = await self.lease.acquire()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("could not renew the scheduler lease: %s", exc)
                    leader = self.lease.held
                metrics.SCHEDULER_LEADER.set(1 if leader else 0)
                if leader and time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.settings.scheduler_tick_seconds
                    try:
                        await self.schedule_due()
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("scheduling failed; trying again next tick")
                if leader and time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                    try:
                        await self.prune()
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        log.warning("could not prune old sweep status: %s", exc)
                await asyncio.sleep(pause)
        finally:
            metrics.SCHEDULER_LEADER.set(0)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.lease.release()

    async def _claim(self, account: Account, state: dict[str, Any] | None, now: datetime) -> bool:
        """Move the account's next due time forward, unless someone else already did."""
        fields = {
            "next_due": now + self.interval(account),
            "last_scheduled_at": now,
            "scheduled_by": self.settings.replica_id,
        }
        if state is None:
            try:
                await self.db.schedules.insert_one({"_id": account.id, **fields})
            except DuplicateKeyError:
                return False
            return True
        answer = await self.db.schedules.update_one(
            {"_id": account.id, "next_due": state["next_due"]}, {"$set": fields}
        )
        return answer.modified_count == 1

    async def schedule_due(self) -> str | None:
        """Queue one sweep of every due account; returns its sweep ID (None if none was due)."""
        now = utcnow()
        monitored = await accounts.monitored_accounts(self.db)
        if not monitored:
            return None
        ids = [a.id for a in monitored]
        states = {
            d["_id"]: d
            for d in await mongo.with_retry(
                lambda: self.db.schedules.find({"_id": {"$in": ids}}).to_list(None),
                what="reading schedules",
            )
        }
        due: list[str] = []
        for account in monitored:
            state = states.get(account.id)
            if state is not None and state.get("next_due") and state["next_due"] > now:
                continue
            if not self.lease.held:
                break
            if await self._claim(account, state, now):
                due.append(account.id)
        if not due:
            return None
        try:
            sweep_id = await request_sweep(
                self.db,
                self.publisher,
                self.settings.sweeps_queue,
                due,
                reason="scheduled",
                requested_by=self.settings.replica_id,
            )
        except Exception:
            # Give the accounts back so the next tick requests them again.
            await self.db.schedules.update_many(
                {"_id": {"$in": due}, "last_scheduled_at": now}, {"$set": {"next_due": now}}
            )
            raise
        log.info("scheduled sweep %s of %d account(s)", sweep_id, len(due))
        return sweep_id
