"""MongoDB access shaped for both MongoDB and FerretDB.

Reads are one `find({_id: {$in: ids}})` per batch on MongoDB. FerretDB 1.24 serves only
`{_id: <string>}` from an index (the one deploy/local/mongo-compat adds) and evaluates
`$in` by parsing every row of the collection, so there a batch is read as point lookups,
`read_concurrency` at a time.

On MongoDB item writes carry guards on the state they read. FerretDB applies an update as
read-modify-write without atomicity, so a guard would not make it safe there; the unique
index on revisions (`<key>:<seq>`, enforced by SQLite) is what serialises history, and
writes filter on `_id` alone.

FerretDB 1.24 also keeps every matched document's read statement (and its SQLite
connection) open until an update command ends, and a database has 100 connections: an
update command matching about 100 documents never finishes. So there bulk writes go in
chunks of `FERRET_CHUNK` operations, one command at a time per process (SQLite has a
single writer anyway).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

from secmonkey.common.storage import Database, Document

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
FERRET_CHUNK = 50
WriteOp = InsertOne[Document] | UpdateOne | ReplaceOne[Document] | DeleteOne


class Store:
    def __init__(
        self, db: Database, *, read_concurrency: int = 8, guarded: bool | None = None
    ) -> None:
        self.db = db
        self.read_concurrency = read_concurrency
        self._guarded = guarded
        self._writes = asyncio.Lock()

    @property
    def is_guarded(self) -> bool:
        """`guarded()` once it has been asked (every read asks it first)."""
        return bool(self._guarded)

    async def guarded(self) -> bool:
        """True on MongoDB (guards and `$in` are cheap), False on FerretDB."""
        if self._guarded is None:
            info = await self.db.client.admin.command("buildInfo")
            self._guarded = "ferretdbVersion" not in info
            if not self._guarded:
                log.info("FerretDB detected: point reads by _id, writes filtered on _id only")
        return self._guarded

    async def read(
        self,
        collection: str,
        ids: Sequence[str],
        projection: dict[str, Any] | None = None,
    ) -> dict[str, Document]:
        """The documents with these `_id`s (missing ones are absent from the result)."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        coll = self.db[collection]
        if await self.guarded():
            docs = await coll.find({"_id": {"$in": unique}}, projection).to_list(None)
            return {doc["_id"]: doc for doc in docs}
        limit = asyncio.Semaphore(self.read_concurrency)

        async def one(key: str) -> Document | None:
            async with limit:
                return await coll.find_one({"_id": key}, projection)

        found = await asyncio.gather(*(one(key) for key in unique))
        return {doc["_id"]: doc for doc in found if doc is not None}

    async def insert(self, collection: str, docs: Sequence[Document]) -> set[int]:
        """Insert `docs` unordered; the indexes of those refused as duplicates."""
        if not docs:
            return set()
        try:
            await self.db[collection].insert_many(list(docs), ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            other = [e for e in errors if e.get("code") != DUPLICATE_KEY]
            if other or not errors:
                raise
            return {int(e["index"]) for e in errors}
        return set()

    async def write(self, collection: str, ops: Iterable[WriteOp]) -> int:
        """One unordered bulk write; the number of documents matched."""
        batch = list(ops)
        if not batch:
            return 0
        coll = self.db[collection]
        if await self.guarded():
            result = await coll.bulk_write(batch, ordered=False)
            return int(result.matched_count) + int(result.upserted_count)
        matched = 0
        async with self._writes:
            for start in range(0, len(batch), FERRET_CHUNK):
                chunk = batch[start : start + FERRET_CHUNK]
                result = await coll.bulk_write(chunk, ordered=False)
                matched += int(result.matched_count) + int(result.upserted_count)
        return matched
