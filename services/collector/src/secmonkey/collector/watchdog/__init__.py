"""The watchdog: secmonkey watching itself, from the replica that holds the scheduler lease.

Every `SECMONKEY_WATCHDOG_SECONDS` the lease holder (exactly one replica) observes
(`observe`): accounts without a complete sweep within three of their intervals, growing
dead-letter and undelivered queues, consumers not ready for minutes. Each condition is
raised once per episode and resolved once (`episodes`), as a `system.*` event stored in
`events` (through `secmonkey.common.event_feed.append`) and published on
`secmonkey.events` with routing key = type, so subscriptions route it like any event; the
gauge `secmonkey_collector_watchdog_conditions{condition}` counts the raised ones.

The state of every condition lives in `watchdog`, so a new lease holder carries on where
the last one stopped. An event is kept in its condition's document (`outbox`) until it
is stored and published: a crash or an unreachable broker delays it, never loses it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from aio_pika.abc import AbstractRobustConnection

from secmonkey.collector import metrics, state_outbox
from secmonkey.collector.lease import Lease
from secmonkey.collector.settings import Settings
from secmonkey.collector.watchdog import observe
from secmonkey.collector.watchdog.episodes import Observation, State, decide, episode_event
from secmonkey.common.amqp import Publisher
from secmonkey.common.messages import SYSTEM_CONDITIONS, Event, utcnow
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)

__all__ = ["Watchdog"]

REPORTS_KEPT = timedelta(days=1)


def _gone(state: State) -> Observation:
    """A raised condition nobody watches any more (an account removed, a queue unlisted)."""
    return Observation(
        key=state.key,
        condition=state.condition,
        subject=state.subject,
        detail="no longer watched",
        severity=state.severity or Severity.INFO,
    )


class Watchdog:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        publisher: Publisher,
        connection: AbstractRobustConnection,
        lease: Lease | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.publisher = publisher
        self.connection = connection
        self.lease = lease

    async def run(self) -> None:
        """Check every period while this replica holds the lease (always, without a lease)."""
        try:
            while True:
                if self.lease is None or self.lease.held:
                    try:
                        await self.check()
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        metrics.WATCHDOG_CHECKS.labels("failed").inc()
                        log.exception("watchdog check failed; trying again next period")
                else:
                    self._count({})  # only the lease holder reports conditions
                await asyncio.sleep(self.settings.watchdog_seconds)
        finally:
            self._count({})

    async def check(self, now: datetime | None = None) -> list[Event]:
        """One round: observe, decide, record, then store and publish the events; returns
        the events sent in this round (including any left unsent by an earlier one)."""
        now = now or utcnow()
        states = {
            doc["_id"]: State.model_validate(doc)
            for doc in await self.db.watchdog.find({}).to_list(None)
        }
        queues = self.settings.watched_queues
        names = queues + [f"{q}.dead" for q in queues] + self.settings.watchdog_undelivered_queues
        readings = await observe.read_queues(self.connection, names)
        observations = await observe.sweeps(self.db, self.settings, states, now)
        observations += observe.growing_queues(self.settings, readings)
        observations += await observe.consumers(self.db, self.settings, readings, now)
        seen = {o.key for o in observations}
        observations += [_gone(s) for key, s in states.items() if key not in seen and s.raised]
        for obs in observations:
            old = states.get(obs.key)
            new, transition = decide(old, obs, now)
            if transition is not None:
                event = episode_event(old, new, obs, transition, now)
                new.outbox.append(event.model_dump(mode="json"))
                log.warning("%s: %s", event.type, obs.subject, extra={"key": obs.key})
            if new != old:
                states[obs.key] = new
                await self._save(new)
        sent = await self._send(states)
        self._count(states)
        # Reports of processes that crashed a day ago (no TTL indexes on FerretDB).
        await self.db.consumer_reports.delete_many({"reported_at": {"$lt": now - REPORTS_KEPT}})
        metrics.WATCHDOG_CHECKS.labels("ok").inc()
        return sent

    async def _save(self, state: State) -> None:
        await self.db.watchdog.replace_one({"_id": state.key}, state.to_mongo(), upsert=True)

    async def _send(self, states: dict[str, State]) -> list[Event]:
        """Store and publish every event still in an outbox, then empty it."""
        return await state_outbox.drain(self.db, self.publisher, states.values(), self._save)

    def _count(self, states: dict[str, State]) -> None:
        for condition in SYSTEM_CONDITIONS:
            raised = sum(1 for s in states.values() if s.raised and s.condition == condition)
            metrics.WATCHDOG_CONDITIONS.labels(condition.removeprefix("system.")).set(raised)
