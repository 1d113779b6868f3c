"""Digest windows kept in MongoDB (`digests`), so they survive restarts and span replicas.

An event for a digest subscription is stored as one entry (`_id` `<subscription>:<event>`,
so a redelivered event is held once) with `due_at` = received + window, and the event
is acknowledged. A window opens with a subscription's first pending entry and closes
`window` later: the flush loop then claims every unclaimed entry received within it
(one `update_many`, atomic per entry, so two replicas never claim the same one), turns
them into one delivery (`digest:<claim>:<n>`, several when there are more than
`digest_max_events`) and deletes them. A claim left behind by a replica that died is
finished by the next flush under the same claim, which yields the same delivery IDs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from pymongo import ASCENDING

from secmonkey.common.documents import Subscription
from secmonkey.common.messages import Event, new_id, utcnow
from secmonkey.common.mongo import Database
from secmonkey.notifier import metrics
from secmonkey.notifier.deliveries import DeliveryStore, new_delivery
from secmonkey.notifier.dispatch import Dispatcher
from secmonkey.notifier.routing import Routes
from secmonkey.notifier.settings import Settings

log = logging.getLogger(__name__)


class Digests:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        store: DeliveryStore,
        routes: Routes,
        dispatcher: Dispatcher,
    ) -> None:
        self.collection = db.digests
        self.settings = settings
        self.store = store
        self.routes = routes
        self.dispatcher = dispatcher

    def window(self, subscription: Subscription) -> timedelta:
        seconds = self.settings.digest_window_seconds or subscription.digest_minutes * 60
        return timedelta(seconds=seconds)

    async def hold(self, subscriptions: list[Subscription], event: Event, now: datetime) -> None:
        """Keep `event` for each subscription's next digest; idempotent per (subscription, event)."""
        entries = [
            {
                "_id": f"{s.id}:{event.event_id}",
                "subscription_id": s.id,
                "event_id": event.event_id,
                "received_at": now,
                "due_at": now + self.window(s),
                "claim": None,
                "claimed_at": None,
                "event": event.model_dump(mode="python"),
            }
            for s in subscriptions
        ]
        fresh = await self.store.writes.insert("digests", entries)
        metrics.DIGESTED.inc(sum(fresh))

    async def run(self) -> None:
        while True:
            try:
                await self.flush(utcnow())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("digest flush failed; trying again")
            await asyncio.sleep(self.settings.digest_flush_seconds)

    async def flush(self, now: datetime) -> int:
        """Close every window that is due; return how many digest deliveries were created."""
        created = 0
        stale = now - timedelta(seconds=self.settings.lease_seconds)
        abandoned = {
            doc["claim"]
            async for doc in self.collection.find(
                {"claim": {"$ne": None}, "claimed_at": {"$lt": stale}}, {"claim": 1}
            ).limit(1000)
        }
        for claim in abandoned:
            created += await self._deliver(claim, now)

        first_due: dict[str, datetime] = {}
        cursor = (
            self.collection.find(
                {"claim": None, "due_at": {"$lte": now}}, {"subscription_id": 1, "due_at": 1}
            )
            .sort("due_at", ASCENDING)
            .limit(5000)
        )
        async for doc in cursor:
            first_due.setdefault(doc["subscription_id"], doc["due_at"])
        for subscription_id, due in first_due.items():
            subscription = await self.routes.subscription(subscription_id)
            window = self.window(subscription) if subscription else timedelta(0)
            claim = new_id()
            await self.collection.update_many(
                {
                    "subscription_id": subscription_id,
                    "claim": None,
                    "due_at": {"$lte": due + window},
                },
                {"$set": {"claim": claim, "claimed_at": now}},
            )
            created += await self._deliver(claim, now, subscription)
        return created

    async def _deliver(
        self, claim: str, now: datetime, subscription: Subscription | None = None
    ) -> int:
        entries = [
            doc
            async for doc in self.collection.find({"claim": claim}).sort(
                [("received_at", ASCENDING), ("_id", ASCENDING)]
            )
        ]
        if not entries:
            return 0
        subscription_id = entries[0]["subscription_id"]
        if subscription is None:
            subscription = await self.routes.subscription(subscription_id)
        if subscription is None or not subscription.enabled:
            log.info(
                "dropping %d digest entries of removed subscription %s",
                len(entries),
                subscription_id,
            )
            await self.collection.delete_many({"claim": claim})
            return 0
        events = [e for e in (self._event(doc) for doc in entries) if e is not None]
        size = self.settings.digest_max_events
        due_at = now + timedelta(seconds=self.settings.lease_seconds)
        deliveries = [
            new_delivery(
                f"digest:{claim}:{i // size}",
                subscription,
                events[i : i + size],
                now,
                kind="digest",
                due_at=due_at,
            )
            for i in range(0, len(events), size)
        ]
        fresh = await self.store.insert_new(deliveries)
        await self.collection.delete_many({"claim": claim})
        for delivery in fresh:
            await self.dispatcher.submit(delivery)
        log.info(
            "digest of %d events for subscription %s",
            len(events),
            subscription_id,
            extra={"subscription_id": subscription_id, "events": len(events)},
        )
        return len(fresh)

    @staticmethod
    def _event(doc: dict[str, Any]) -> Event | None:
        try:
            return Event.model_validate(doc["event"])
        except (KeyError, ValidationError) as exc:
            log.warning("skipping unreadable digest entry %s: %s", doc.get("_id"), exc)
            return None
