"""Missed events: changes a periodic sweep found that no CloudTrail event explained.

While events are on, sweeps run rarely and should find nothing new. The auditor's change
feed (`events`) says what each change was; a group change is explained when it carries
callers (an event snapshot recorded it) or when a CloudTrail call on that group arrived
after its previous version was recorded (the event came, the sweep merely got there
first). Every other change is counted and logged as a missed event: a gap in the
EventBridge forwarding of some account or region. Only the lease holder checks, so
replicas do not count a change twice; the cursor lives beside the lease in `leases`.

Created groups are not judged: the first sweep of a new account creates every group.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from secmonkey.collector.cloudtrail import metrics
from secmonkey.collector.cloudtrail.marks import MARKS
from secmonkey.collector.scheduler import Lease
from secmonkey.common import history_reads, storage
from secmonkey.common.messages import utcnow
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)

LEASE_ID = "collector-missed-events"
CURSOR_ID = f"{LEASE_ID}:cursor"
JUDGED_TYPES = ("group.changed", "group.deleted", "group.restored")
GRACE = timedelta(minutes=15)  # CloudTrail usually delivers within minutes
PAGE = 500


async def explained(db: Database, change: dict[str, Any]) -> bool:
    """Whether a CloudTrail call accounts for this change of the feed."""
    if change.get("callers"):
        return True
    mark = await db[MARKS].find_one({"_id": change.get("key")})
    if mark is None or mark.get("last_event_at") is None:
        return False
    seq = change.get("seq")
    previous = None
    if isinstance(seq, int) and seq > 1:
        previous = await history_reads.revision(db, str(change.get("key")), seq - 1)
    if previous is None or previous.get("observed_at") is None:
        return True
    last_event: datetime = mark["last_event_at"]
    previous_at: datetime = previous["observed_at"]
    return last_event >= previous_at


async def check_missed(db: Database, since: datetime, until: datetime) -> tuple[int, datetime]:
    """Judge the feed's group changes in (since, until]; returns (missed, new cursor)."""
    missed = 0
    cursor = since
    while True:
        changes = await history_reads.changes_between(db, JUDGED_TYPES, cursor, until, PAGE)
        for change in changes:
            if not await explained(db, change):
                missed += 1
                metrics.MISSED_EVENTS.inc()
                log.warning(
                    "missed event: a sweep found %s of %s that no CloudTrail event explained",
                    change.get("type"),
                    change.get("key"),
                    extra={"key": change.get("key"), "changes": change.get("changes", [])[:10]},
                )
        if len(changes) < PAGE:
            return missed, until
        cursor = changes[-1]["at"]


class MissedEventCheck:
    """Runs `check_missed` every `interval` while holding its lease."""

    def __init__(self, db: Database, holder: str, interval: float, grace: timedelta = GRACE):
        self.db = db
        self.interval = interval
        self.grace = grace
        self.lease = Lease(db, LEASE_ID, holder, max(3 * interval, 60.0))

    async def run(self) -> None:
        while True:
            try:
                if await self.lease.acquire():
                    await self.once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("missed-event check failed; trying again later")
            await asyncio.sleep(self.interval)

    async def once(self) -> int:
        """One check from the stored cursor (first time: from now on)."""
        state = await self.db.leases.find_one({"_id": CURSOR_ID}) or {}
        until = utcnow() - self.grace
        since = state.get("cursor") or until
        if since >= until:
            await self._save(since)
            return 0
        missed, cursor = await check_missed(self.db, since, until)
        await self._save(cursor)
        return missed

    async def _save(self, cursor: datetime) -> None:
        await storage.with_retry(
            lambda: self.db.leases.update_one(
                {"_id": CURSOR_ID}, {"$set": {"cursor": cursor}}, upsert=True
            ),
            what="saving the missed-event cursor",
        )
