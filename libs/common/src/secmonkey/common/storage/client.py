"""Connecting, creating indexes and pinging (PyMongo's asyncio API).

Every query in secmonkey stays inside the subset that both MongoDB 7 and FerretDB 1.24
serve (DESIGN §4): no `$lookup`, `$facet`, TTL indexes, transactions or change streams.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from secmonkey.common.storage.backend import Document
from secmonkey.common.storage.collections import INDEXES

Database = AsyncDatabase[Document]


def connect(
    url: str, *, query_timeout: float | None = None, **options: Any
) -> AsyncMongoClient[Document]:
    """An async client with timeouts short enough that readiness checks answer quickly.

    `query_timeout` (seconds) bounds every operation: PyMongo sends it to the server as
    `maxTimeMS` on each command (find, getMore, aggregate, count, writes), which MongoDB and
    FerretDB 1.24 both enforce (error 50, a transient error here), and waits no longer for
    the answer. A cursor gets it per batch, so a long stream is not cut, a slow query is.
    """
    if query_timeout:
        options.setdefault("timeoutMS", int(query_timeout * 1000))
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
