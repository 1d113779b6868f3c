"""MongoDB access (PyMongo's asyncio API) and the one place every index is declared.

Every query in secmonkey stays inside the subset that both MongoDB 7 and FerretDB 1.24
serve (DESIGN §4): no `$lookup`, `$facet`, TTL indexes, transactions or change streams.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    ServerSelectionTimeoutError,
)

log = logging.getLogger(__name__)

Document = dict[str, Any]
Database = AsyncDatabase[Document]
T = TypeVar("T")

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    ServerSelectionTimeoutError,
)

INDEXES: dict[str, list[IndexModel]] = {
    "accounts": [IndexModel([("enabled", ASCENDING)])],
    "items": [
        IndexModel([("account_id", ASCENDING), ("region", ASCENDING), ("state", ASCENDING)]),
        IndexModel([("group_id", ASCENDING)]),
        IndexModel([("name_lower", ASCENDING)]),
        IndexModel([("vpc_id", ASCENDING)]),
        IndexModel([("ranges.lo", ASCENDING)]),
        IndexModel([("max_severity_rank", DESCENDING)]),
    ],
    "revisions": [
        IndexModel([("key", ASCENDING), ("seq", ASCENDING)], unique=True),
        IndexModel(
            [("key", ASCENDING), ("fingerprint", ASCENDING), ("observed_at", ASCENDING)],
            unique=True,
        ),
        IndexModel([("key", ASCENDING), ("observed_at", ASCENDING)]),
    ],
    "issues": [
        IndexModel([("key", ASCENDING), ("status", ASCENDING)]),
        IndexModel([("status", ASCENDING), ("severity_rank", DESCENDING)]),
        IndexModel([("account_id", ASCENDING), ("status", ASCENDING)]),
        IndexModel([("rule_id", ASCENDING), ("status", ASCENDING)]),
    ],
    "events": [
        IndexModel([("event_id", ASCENDING)], unique=True),
        IndexModel([("at", DESCENDING)]),
        IndexModel([("type", ASCENDING), ("at", DESCENDING)]),
        IndexModel([("account_id", ASCENDING), ("at", DESCENDING)]),
        IndexModel([("key", ASCENDING), ("at", DESCENDING)]),
    ],
    # `_id`-keyed lookups written by the auditor (secmonkey.common.postings): read by `_id`.
    "rule_ranges": [],
    "rule_postings": [],
    "group_ids": [],
    "subscriptions": [IndexModel([("enabled", ASCENDING)])],
    "deliveries": [
        IndexModel([("event_id", ASCENDING), ("subscription_id", ASCENDING)]),
        IndexModel([("status", ASCENDING), ("at", DESCENDING)]),
        IndexModel([("subscription_id", ASCENDING), ("at", DESCENDING)]),
    ],
    "delivery_schedule": [IndexModel([("due_at", ASCENDING)])],  # the notifier's outbox
    "delivery_claims": [IndexModel([("at", ASCENDING)])],
    "digests": [
        IndexModel([("subscription_id", ASCENDING), ("due_at", ASCENDING)]),
        IndexModel([("due_at", ASCENDING)]),
    ],
    "digest_claims": [IndexModel([("claim", ASCENDING)]), IndexModel([("at", ASCENDING)])],
    "api_keys": [IndexModel([("hash", ASCENDING)], unique=True)],
    "allowlist": [],
    "sweeps": [IndexModel([("sweep_id", ASCENDING)]), IndexModel([("started_at", DESCENDING)])],
    "leases": [],
}


def connect(url: str, **options: Any) -> AsyncMongoClient[Document]:
    """An async client with timeouts short enough that readiness checks answer quickly."""
    options.setdefault("serverSelectionTimeoutMS", 5000)
    options.setdefault("connectTimeoutMS", 5000)
    options.setdefault("tz_aware", True)
    return AsyncMongoClient(url, **options)


async def ensure_indexes(db: Database) -> None:
    """Create every collection's indexes; idempotent, safe for replicas starting together."""
    for name, indexes in INDEXES.items():
        existing = set(await db[name].index_information()) if indexes else set()
        # FerretDB 1.24 drops the connection when createIndexes names an index that
        # already exists, so only the missing ones are sent (harmless on MongoDB).
        missing = [index for index in indexes if index.document["name"] not in existing]
        if missing:
            await db[name].create_indexes(missing)


async def ping(db: Database) -> None:
    await db.command("ping")


async def with_retry(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int | None = None,
    base_delay: float = 0.2,
    max_delay: float = 10.0,
) -> T:
    """Run `operation`, retrying with backoff while MongoDB is unreachable.

    With `attempts=None` it waits for as long as it takes: a consumer must never drop
    or half-apply a message because the database blinked.
    """
    delay = base_delay
    tried = 0
    while True:
        try:
            return await operation()
        except TRANSIENT_ERRORS as exc:
            tried += 1
            if attempts is not None and tried >= attempts:
                raise
            log.warning("MongoDB unavailable during %s (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
