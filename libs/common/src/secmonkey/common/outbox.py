"""An outbox for messages that follow a database write: stored first, published, removed
once the broker confirmed them, and republished later if that did not happen.

The whole message (exchange, routing key, body, message id) is stored, so a replica that
republishes needs nothing else. The message id is the document's `_id`: storing the same
message twice keeps one, and a republished message carries the id its first attempt had,
so a consumer that deduplicates on it sees it once (sweep requests are idempotent anyway:
a second `SweepRequest` of one sweep re-reads the same account into the same sweep ID).

Republishing is done by one replica per period: each round first claims the period in
`<collection>_claims` with a unique insert (`storage.insert_unique`, as the collector's
scheduler claims a due time), so two replicas do not both send what is left.

A message that announces a write (an `issue.justified` event) is stored BEFORE the write,
with the write's `Requirement`: a process that dies between the two leaves a message
whose write is missing. The republisher sends a stored message only once its
requirement holds, and drops it when it still does not after `ABANDON_AFTER` (the write
never happened). Without transactions (FerretDB has none), this is how neither a write
without its event nor an event without its write survives a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from prometheus_client import Gauge
from pydantic import BaseModel

from secmonkey.common.amqp import REPUBLISHED_HEADER, Publisher, encode
from secmonkey.common.errors import TransientError
from secmonkey.common.messages import utcnow
from secmonkey.common.storage import Database, Store, insert_unique, is_transient

log = logging.getLogger(__name__)

REPUBLISH_BATCH = 500
CLAIMS_KEPT = timedelta(days=1)
ABANDON_AFTER = timedelta(minutes=10)

OUTBOX_PENDING = Gauge(
    "secmonkey_outbox_pending",
    "messages stored in an outbox and not yet confirmed by RabbitMQ (as of the last round)",
    ["outbox"],
)

# What a publish raises when the broker does not take a message now (a closed channel
# too: the robust connection has not restored it yet).
_NOT_TAKEN = (
    TransientError,
    TimeoutError,
    AMQPError,
    ChannelInvalidStateError,
    ConnectionError,
    OSError,
)


@dataclass(frozen=True)
class Requirement:
    """The write a message announces: a document of `collection` matching `filter`
    (equality on fields only)."""

    collection: str
    filter: dict[str, Any]


@dataclass(frozen=True)
class Outgoing:
    """One message to publish: on `exchange` ("" = the default exchange, routing by queue
    name) with `routing_key`, carrying `body` (JSON) and `message_id`; `requires` is the
    write it announces, when it is stored before that write."""

    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    requires: Requirement | None = None

    @classmethod
    def of(
        cls,
        exchange: str,
        routing_key: str,
        message: BaseModel,
        message_id: str,
        requires: Requirement | None = None,
    ) -> Outgoing:
        return cls(exchange, routing_key, encode(message), message_id, requires)

    def doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "_id": self.message_id,
            "exchange": self.exchange,
            "routing_key": self.routing_key,
            "body": self.body.decode(),
            "at": utcnow(),
        }
        if self.requires is not None:
            # As {field, value} pairs: a stored key may not contain a dot (FerretDB).
            doc["requires"] = {
                "collection": self.requires.collection,
                "filter": [{"field": k, "value": v} for k, v in self.requires.filter.items()],
            }
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Outgoing:
        requires = doc.get("requires")
        return cls(
            doc["exchange"],
            doc["routing_key"],
            doc["body"].encode(),
            doc["_id"],
            Requirement(
                requires["collection"], {p["field"]: p["value"] for p in requires["filter"]}
            )
            if requires
            else None,
        )


class Outbox:
    """Messages in `collection` until RabbitMQ confirms them.

    `publisher` is asked each time (it is None while the broker is not connected)."""

    def __init__(
        self,
        db: Database,
        collection: str,
        publisher: Callable[[], Publisher | None],
        before_republish: Callable[[Outgoing], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.collection = collection
        self.claims = f"{collection}_claims"
        self.publisher = publisher
        # What the sender did after its write and before publishing (the API appends an
        # event to the feed): done again, idempotently, for what is republished.
        self.before_republish = before_republish
        self._store = Store(db)

    async def put(self, messages: Sequence[Outgoing]) -> None:
        """Store `messages` (a message already stored stays as it is)."""
        if messages:
            await self._store.insert(self.collection, [m.doc() for m in messages])

    async def send(self, messages: Sequence[Outgoing], *, again: bool = False) -> bool:
        """Publish stored `messages` and remove them once confirmed: True if they were.

        False (and they stay stored, for `republish`) when RabbitMQ is not connected,
        blocked, or does not confirm within the publisher's deadline."""
        if not messages:
            return True
        publisher = self.publisher()
        if publisher is None:
            log.warning("RabbitMQ not connected: %d message(s) wait in the outbox", len(messages))
            return False
        by_exchange: dict[str, list[Outgoing]] = {}
        for message in messages:
            by_exchange.setdefault(message.exchange, []).append(message)
        try:
            for exchange, batch in by_exchange.items():
                await publisher.publish_many(
                    exchange,
                    [(m.routing_key, m.body, m.message_id) for m in batch],
                    # Sent again: the first may have reached the broker (confirm lost).
                    headers={REPUBLISHED_HEADER: True} if again else None,
                )
        except _NOT_TAKEN as exc:
            log.warning("RabbitMQ did not take %d message(s) (%s); kept", len(messages), exc)
            return False
        ids = [m.message_id for m in messages]
        await self.db[self.collection].delete_many({"_id": {"$in": ids}})
        return True

    async def discard(self, messages: Sequence[Outgoing]) -> None:
        """Remove stored `messages` whose write was refused (they announce nothing)."""
        ids = [m.message_id for m in messages]
        await self.db[self.collection].delete_many({"_id": {"$in": ids}})

    async def _ready(self, docs: list[dict[str, Any]], now: Any) -> list[Outgoing]:
        """The stored messages whose write happened; those whose write never did, dropped."""
        ready: list[Outgoing] = []
        for doc in docs:
            message = Outgoing.from_doc(doc)
            need = message.requires
            if need is None or await self.db[need.collection].find_one(need.filter, {"_id": 1}):
                ready.append(message)
            elif doc["at"] <= now - ABANDON_AFTER:
                log.warning(
                    "dropped message %s from %s: the write it announces never happened",
                    message.message_id,
                    self.collection,
                )
                await self.discard([message])
        return ready

    async def deliver(self, messages: Sequence[Outgoing]) -> bool:
        """Store, then publish: True if published now, False if left for `republish`."""
        await self.put(messages)
        return await self.send(messages)

    async def republish(self, older_than: timedelta, period: timedelta) -> int:
        """Publish what stayed in the outbox for longer than `older_than` (a request still
        publishing its own messages is younger), if this replica claims this `period`.

        Returns how many were published."""
        if self.publisher() is None:
            return 0
        now = utcnow()
        window = int(now.timestamp() // max(period.total_seconds(), 1.0))
        if not await insert_unique(self.db[self.claims], {"_id": str(window), "at": now}):
            return 0
        await self.db[self.claims].delete_many({"at": {"$lt": now - CLAIMS_KEPT}})
        docs = (
            await self.db[self.collection]
            .find({"at": {"$lte": now - older_than}})
            .sort("at", 1)
            .limit(REPUBLISH_BATCH)
            .to_list()
        )
        ready = await self._ready(docs, now)
        if self.before_republish is not None:
            for message in ready:
                await self.before_republish(message)
        published = 0
        if ready and await self.send(ready, again=True):
            published = len(ready)
        OUTBOX_PENDING.labels(self.collection).set(
            await self.db[self.collection].count_documents({})
        )
        if published:
            log.info("republished %d message(s) from %s", published, self.collection)
        return published

    async def pending(self) -> int:
        """How many messages wait to be published."""
        return await self.db[self.collection].count_documents({})


async def republish_forever(outbox: Outbox, every_seconds: float, publish_deadline: float) -> None:
    """Send what RabbitMQ did not take when it was asked (down, blocked, or a process that
    stopped in between), once per period, by one replica at a time (a service's task)."""
    period = timedelta(seconds=every_seconds)
    # A request publishes its own messages within one deadline; only older ones are left.
    grace = timedelta(seconds=2 * publish_deadline)
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await outbox.republish(grace, period)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                log.exception("republishing %s failed", outbox.collection)
                continue
            log.warning(
                "republishing %s skipped: the database is unavailable (%s)", outbox.collection, exc
            )
