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
    and a client-side deadline on every operation (None: no deadline, for tools that
    run one long bulk load)."""
    if operation_timeout_seconds is not None:
        options.setdefault("timeoutMS", int(operation_timeout_seconds * 1000))
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
