"""Connecting, creating indexes and pinging (PyMongo's asyncio API).

Every query in secmonkey stays inside the subset that both MongoDB 7 and FerretDB 1.24
serve (DESIGN §4): no `$lookup`, `$facet`, TTL indexes, transactions or change streams.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from secmonkey.common.storage.backend import Document, detect
from secmonkey.common.storage.collections import INDEXES

Database = AsyncDatabase[Document]


# PyMongo applies timeoutMS to each operation: a find's first batch and each getMore get
# their own deadline (checked on PyMongo 4.20 against FerretDB: a 60-document cursor read
# in batches of 5 over 3.8 s with timeoutMS=1000), so long iterations are not cut short.
DEFAULT_OPERATION_TIMEOUT_SECONDS = 60.0


def connect(
    url: str,
    *,
    operation_timeout_seconds: float | None = DEFAULT_OPERATION_TIMEOUT_SECONDS,
    **options: Any,
) -> AsyncMongoClient[Document]:
    """An async client with timeouts short enough that readiness checks answer quickly,
    and a deadline on every operation (None: no deadline, for tools that run one long bulk
    load). PyMongo also sends what is left of it to the server as `maxTimeMS` on every
    command that starts work (find, aggregate, count, writes; a getMore runs under its
    find's), which MongoDB and FerretDB 1.24 both enforce (error 50): a query too costly
    for the deadline is stopped by the server, not only abandoned by the client."""
    if operation_timeout_seconds is not None:
        options.setdefault("timeoutMS", int(operation_timeout_seconds * 1000))
    options.setdefault("serverSelectionTimeoutMS", 5000)
    options.setdefault("connectTimeoutMS", 5000)
    options.setdefault("tz_aware", True)
    return AsyncMongoClient(url, **options)


async def wanted_indexes(db: Database) -> dict[str, list[IndexModel]]:
    """The declared indexes this backend needs: all of them where filters are served from
    indexes (MongoDB); only the unique ones elsewhere. FerretDB 1.24 pushes down no filter
    but one `_id` equality and sorts in memory (its SQLite backend's `Query`), so there an
    index that is not unique serves no query and only slows every write (measured: 3,000
    items inserted 15 % slower with the items' indexes); unique ones enforce claims."""
    caps = await detect(db.client)
    if caps.indexed_filters:
        return INDEXES
    return {
        name: [index for index in indexes if index.document.get("unique")]
        for name, indexes in INDEXES.items()
    }


async def ensure_indexes(db: Database) -> None:
    """Create every collection's indexes the backend needs (`wanted_indexes`); idempotent,
    safe for replicas starting together."""
    for name, indexes in (await wanted_indexes(db)).items():
        existing = set(await db[name].index_information()) if indexes else set()
        # FerretDB 1.24 drops the connection when createIndexes names an index that
        # already exists, so only the missing ones are sent (harmless on MongoDB).
        missing = [index for index in indexes if index.document["name"] not in existing]
        if missing:
            await db[name].create_indexes(missing)


async def missing_indexes(db: Database) -> list[str]:
    """Every declared index that does not exist (`index collection.name`), for a service
    that may not create them."""
    missing = []
    for name, indexes in (await wanted_indexes(db)).items():
        existing = set(await db[name].index_information()) if indexes else set()
        missing += [
            f"index {name}.{index.document['name']}"
            for index in indexes
            if index.document["name"] not in existing
        ]
    return missing


async def ping(db: Database) -> None:
    await db.command("ping")
