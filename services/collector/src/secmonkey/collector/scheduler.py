"""The schedule: every account swept every `interval`, by exactly one replica at a time.

Every replica competes for the scheduler lease (`lease.py`); the holder renews it three
times per lease period and is the only one that schedules. A crashed holder stops
renewing, its lease expires, and the next replica to try takes it over, so scheduling
resumes within one lease period. Each account's next due time lives in `schedules`; a
due time is claimed by inserting a unique `schedule_claims` document named after it, so
even a holder that lost its lease while paused cannot request the same account twice
(FerretDB does not isolate conditional updates; unique inserts it does).

The requests go through the collector's outbox (`collector_outbox`): stored before they
are published, so a broker that is down or a replica that dies between the claim and the
publish delays a scheduled sweep by one republish period instead of by one interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from secmonkey.collector import metrics
from secmonkey.collector.lease import Lease
from secmonkey.collector.settings import Settings
from secmonkey.common import accounts, storage
from secmonkey.common.amqp import Publisher
from secmonkey.common.documents import Account
from secmonkey.common.messages import utcnow
from secmonkey.common.outbox import Outbox
from secmonkey.common.storage import Database, insert_unique
from secmonkey.common.sweep_requests import request_sweep

log = logging.getLogger(__name__)

__all__ = ["LEASE_ID", "Lease", "Scheduler"]

LEASE_ID = "collector-scheduler"
OUTBOX = "collector_outbox"
PRUNE_EVERY_SECONDS = 3600.0


def sweep_interval(settings: Settings, account: Account) -> timedelta:
    """How often `account` is swept: its `interval_minutes`, else the default interval."""
    if account.interval_minutes:
        return timedelta(minutes=account.interval_minutes)
    return timedelta(seconds=settings.sweep_interval_seconds)


class Scheduler:
    """While holding the lease, queues a SweepRequest for every account that is due."""

    def __init__(self, settings: Settings, db: Database, publisher: Publisher) -> None:
        self.settings = settings
        self.db = db
        self.publisher = publisher
        self.outbox = Outbox(db, OUTBOX, lambda: self.publisher)
        self.lease = Lease(db, LEASE_ID, settings.replica_id, settings.scheduler_lease_seconds)

    def interval(self, account: Account) -> timedelta:
        return sweep_interval(self.settings, account)

    async def prune(self) -> int:
        """Delete sweep status older than the retention (FerretDB has no TTL indexes)."""
        cutoff = utcnow() - timedelta(days=self.settings.sweep_retention_days)
        answer = await self.db.sweeps.delete_many({"started_at": {"$lt": cutoff}})
        await self.db.schedule_claims.delete_many({"at": {"$lt": cutoff}})
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
        """Claim the account's current due time; False if another replica already did."""
        slot = state["next_due"].isoformat() if state and state.get("next_due") else "first"
        claim = {"_id": f"{account.id}@{slot}", "at": now, "by": self.settings.replica_id}
        if not await insert_unique(self.db.schedule_claims, claim):
            return False
        await self.db.schedules.update_one(
            {"_id": account.id},
            {
                "$set": {
                    "next_due": now + self.interval(account),
                    "last_scheduled_at": now,
                    "scheduled_by": self.settings.replica_id,
                }
            },
            upsert=True,
        )
        return True

    async def schedule_due(self) -> str | None:
        """Queue one sweep of every due account; returns its sweep ID (None if none was due)."""
        now = utcnow()
        monitored = await accounts.monitored_accounts(self.db)
        if not monitored:
            return None
        ids = [a.id for a in monitored]
        states = {
            d["_id"]: d
            for d in await storage.with_retry(
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
            sweep_id, sent = await request_sweep(
                self.db,
                self.outbox,
                self.settings.sweeps_queue,
                due,
                regions=None,
                reason="scheduled",
                requested_by=self.settings.replica_id,
            )
        except Exception:
            # Not even stored: give the accounts back so the next tick requests them again.
            await self.db.schedules.update_many(
                {"_id": {"$in": due}, "last_scheduled_at": now}, {"$set": {"next_due": now}}
            )
            raise
        if not sent:
            log.warning("sweep %s waits in the outbox until RabbitMQ takes it", sweep_id)
        metrics.SWEEPS_REQUESTED.labels("scheduled").inc(len(due))
        log.info("scheduled sweep %s of %d account(s)", sweep_id, len(due))
        return sweep_id
