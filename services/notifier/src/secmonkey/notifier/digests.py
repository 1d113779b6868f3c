"""Digest windows kept in MongoDB (`digests`), so they survive restarts and span replicas.

An event for a digest subscription is stored as one entry (`_id` `<subscription>:<event>`,
so a redelivered event is held once) with `due_at` = received + window, and the event
is acknowledged. A window opens with a subscription's first pending entry and closes
`window` later: the flush loop then claims every entry received within it — by
inserting one `digest_claims` document per entry, named after it, so that of two
replicas flushing at once each entry goes to exactly one (FerretDB's conditional
updates are not isolated; unique inserts are) — turns them into one delivery
(`digest:<claim>:<n>`, several when there are more than `digest_max_events`) and
deletes them. A claim left behind by a replica that died is finished by the next flush
under the same claim, which yields the same delivery IDs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from pymongo import ASCENDING

from secmonkey.common.delivery_schedule import new_delivery
from secmonkey.common.documents import Subscription
from secmonkey.common.messages import Event, new_id, utcnow
from secmonkey.common.storage import Database
from secmonkey.notifier import metrics
from secmonkey.notifier.attempts import Attempts
from secmonkey.notifier.deliveries import DeliveryStore
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
        attempts: Attempts,
    ) -> None:
        self.collection = db.digests
        self.claims = db.digest_claims
        self.settings = settings
        self.store = store
        self.routes = routes
        self.attempts = attempts

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
                "event_json": event.model_dump_json(),
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
            async for doc in self.claims.find({"at": {"$lt": stale}}, {"claim": 1}).limit(5000)
        }
        for claim in abandoned:
            created += await self._deliver(claim, now)

        claimed = {doc["_id"] async for doc in self.claims.find({}, {"_id": 1})}
        first_due: dict[str, datetime] = {}
        cursor = (
            self.collection.find({"due_at": {"$lte": now}}, {"subscription_id": 1, "due_at": 1})
            .sort("due_at", ASCENDING)
            .limit(5000)
        )
        async for doc in cursor:
            if doc["_id"] not in claimed:
                first_due.setdefault(doc["subscription_id"], doc["due_at"])
        for subscription_id, due in first_due.items():
            subscription = await self.routes.subscription(subscription_id)
            window = self.window(subscription) if subscription else timedelta(0)
            candidates = [
                doc["_id"]
                async for doc in self.collection.find(
                    {"subscription_id": subscription_id, "due_at": {"$lte": due + window}},
                    {"_id": 1},
                )
                if doc["_id"] not in claimed
            ]
            claim = new_id()
            won = await self.store.writes.insert(
                "digest_claims",
                [{"_id": entry, "claim": claim, "at": now} for entry in candidates],
            )
            mine = [entry for entry, ok in zip(candidates, won, strict=True) if ok]
            if mine:
                created += await self._deliver(claim, now, subscription, mine)
        return created

    async def _deliver(
        self,
        claim: str,
        now: datetime,
        subscription: Subscription | None = None,
        entry_ids: list[str] | None = None,
    ) -> int:
        if entry_ids is None:
            entry_ids = [doc["_id"] async for doc in self.claims.find({"claim": claim})]
        entries = sorted(
            [doc async for doc in self.collection.find({"_id": {"$in": entry_ids}})],
            key=lambda doc: (doc["received_at"], doc["_id"]),
        )
        if not entries:
            await self.claims.delete_many({"claim": claim})
            return 0
        subscription_id = entries[0]["subscription_id"]
        if subscription is None:
            subscription = await self.routes.subscription(subscription_id)
        if subscription is not None and subscription.enabled:
            created = await self._queue(claim, now, subscription, entries)
        else:
            log.info(
                "dropping %d digest entries of removed subscription %s",
                len(entries),
                subscription_id,
            )
            created = 0
        await self.collection.delete_many({"_id": {"$in": entry_ids}})
        await self.claims.delete_many({"claim": claim})
        return created

    async def _queue(
        self, claim: str, now: datetime, subscription: Subscription, entries: list[dict[str, Any]]
    ) -> int:
        events = [e for e in (self._event(doc) for doc in entries) if e is not None]
        size = self.settings.digest_max_events
        due_at = now + timedelta(seconds=self.settings.lease_seconds)
        chunks = [events[i : i + size] for i in range(0, len(events), size)]
        deliveries = [
            new_delivery(
                f"digest:{claim}:{n}",
                subscription,
                chunk,
                now,
                kind="digest",
                due_at=due_at,
                summary=f"digest of {len(chunk)} event{'s' if len(chunk) != 1 else ''}",
            )
            for n, chunk in enumerate(chunks)
        ]
        fresh = await self.store.insert_new(deliveries)
        for delivery in fresh:
            await self.attempts.submit(delivery)
        log.info(
            "digest of %d events for subscription %s",
            len(events),
            subscription.id,
            extra={"subscription_id": subscription.id, "events": len(events)},
        )
        return len(fresh)

    @staticmethod
    def _event(doc: dict[str, Any]) -> Event | None:
        try:
            return Event.model_validate_json(doc["event_json"])
        except (KeyError, ValidationError) as exc:
            log.warning("skipping unreadable digest entry %s: %s", doc.get("_id"), exc)
            return None
