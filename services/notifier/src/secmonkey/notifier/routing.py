"""Which subscriptions hear of an event: enabled subscriptions and account labels, cached briefly."""

from __future__ import annotations

import asyncio
import logging
import time

from pydantic import ValidationError

from secmonkey.common import sealed
from secmonkey.common.documents import Subscription
from secmonkey.common.messages import Event
from secmonkey.common.storage import Database
from secmonkey.common.subscriptions import matches

log = logging.getLogger(__name__)


class Routes:
    """Enabled subscriptions and every account's labels, re-read at most every `ttl` seconds."""

    def __init__(self, db: Database, ttl: float) -> None:
        self.db = db
        self.ttl = ttl
        self._subscriptions: list[Subscription] = []
        self._labels: dict[str, list[str]] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def matching(self, event: Event) -> list[Subscription]:
        await self._refresh()
        labels = self._labels.get(event.account_id, []) if event.account_id else []
        return [s for s in self._subscriptions if matches(s, event, labels)]

    async def current(self, subscription_id: str) -> Subscription | None:
        """The enabled subscription from the (refreshed) cache, else as stored now."""
        await self._refresh()
        for subscription in self._subscriptions:
            if subscription.id == subscription_id:
                return subscription
        return await self.subscription(subscription_id)

    async def subscription(self, subscription_id: str) -> Subscription | None:
        """The subscription as stored now (its URL, secret or recipients may have changed)."""
        doc = await self.db.subscriptions.find_one({"_id": subscription_id})
        if doc is None:
            return None
        try:
            return Subscription.model_validate(sealed.open_doc("subscriptions", doc))
        except ValidationError as exc:
            log.warning("subscription %s is malformed: %s", subscription_id, exc.errors()[:3])
            return None
        except sealed.SealError as exc:
            log.error("subscription %s: %s", subscription_id, exc)
            return None

    def invalidate(self) -> None:
        self._loaded_at = None

    async def _refresh(self) -> None:
        if self._fresh():
            return
        async with self._lock:
            if self._fresh():
                return
            subscriptions = []
            async for doc in self.db.subscriptions.find({"enabled": True}):
                try:
                    subscriptions.append(
                        Subscription.model_validate(sealed.open_doc("subscriptions", doc))
                    )
                except ValidationError as exc:
                    log.warning(
                        "ignoring malformed subscription %s: %s", doc.get("_id"), exc.errors()[:3]
                    )
                except sealed.SealError as exc:
                    log.error("ignoring subscription %s: %s", doc.get("_id"), exc)
            labels: dict[str, list[str]] = {}
            async for doc in self.db.accounts.find({}, {"labels": 1}):
                labels[str(doc["_id"])] = [str(label) for label in doc.get("labels") or []]
            self._subscriptions, self._labels = subscriptions, labels
            self._loaded_at = time.monotonic()

    def _fresh(self) -> bool:
        return self._loaded_at is not None and time.monotonic() - self._loaded_at < self.ttl
