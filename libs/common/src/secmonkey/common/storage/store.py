"""Batched reads by `_id`, bulk writes with optional guards, unique inserts, and deletes by
`_id` from small collections, each in the fastest form the backend serves correctly.

Reads of many documents are one `find({_id: {$in: ids}})` (per `ID_LIST` ids) where the
`_id` index serves it (`indexed_id_lists`: MongoDB, and FerretDB as deploy/local/
mongo-compat builds it); plain FerretDB 1.24 serves only `{_id: <string>}` from an index
and evaluates `$in` by parsing every row, so there a batch is read as point lookups,
`read_concurrency` at a time.

Without `large_bulk_writes` (FerretDB) bulk writes go in chunks of `SMALL_CHUNK`
operations, one command at a time per process: FerretDB keeps every matched document's
statement (and its SQLite connection) open until an update command ends, and a database
has 100 connections, so an update matching about 100 documents never finishes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from secmonkey.common.storage.backend import Capabilities, Document, capabilities_of
from secmonkey.common.storage.client import Database
from secmonkey.common.storage.errors import is_duplicate_key, refused_duplicates
from secmonkey.common.storage.ops import Replace, WriteOp, to_driver

SMALL_CHUNK = 50
ID_LIST = 1000  # ids per `$in` read (mongo-compat pushes down at most 1,000)


async def insert_unique(collection: AsyncCollection[Document], doc: Document) -> bool:
    """Insert `doc` unless a document with its `_id` (or other unique keys) exists: True
    if this call inserted it. The way to claim something among replicas on any backend
    (a unique index is enforced everywhere; a conditional update is not)."""
    try:
        await collection.insert_one(doc)
    except Exception as exc:
        if is_duplicate_key(exc):
            return False
        raise
    return True


class Store:
    """The storage operations services build on, bound to one database."""

    def __init__(
        self,
        db: Database,
        capabilities: Capabilities | None = None,
        *,
        read_concurrency: int = 8,
    ) -> None:
        self.db = db
        self.capabilities = capabilities or capabilities_of(db.client)
        self.read_concurrency = read_concurrency
        self._writes = asyncio.Lock()

    @property
    def conditional_writes(self) -> bool:
        """Whether guards make writes conditional (else they are dropped)."""
        return self.capabilities.conditional_writes

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
        if self.capabilities.indexed_filters or self.capabilities.indexed_id_lists:
            chunks = [unique[i : i + ID_LIST] for i in range(0, len(unique), ID_LIST)]
            lists = await asyncio.gather(
                *(coll.find({"_id": {"$in": c}}, projection).to_list(None) for c in chunks)
            )
            return {doc["_id"]: doc for docs in lists for doc in docs}
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
            refused = refused_duplicates(exc)
            if refused is None:
                raise
            return refused
        return set()

    async def delete_small(self, collection: str, ids: Sequence[Any]) -> int:
        """Delete the documents with these `_id`s from a collection that stays small (the
        outbox): one `delete_many` by `$in`, so one command and one transaction. A bulk of
        `Delete`s is a transaction per document on FerretDB, which evaluates `$in` by
        parsing every row instead: cheap only where there are few. The number deleted."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return 0
        result = await self.db[collection].delete_many({"_id": {"$in": unique}})
        return int(result.deleted_count)

    async def write(self, collection: str, ops: Iterable[WriteOp]) -> int:
        """One unordered bulk write; the number of documents matched."""
        batch = [to_driver(op, self.conditional_writes) for op in ops]
        if not batch:
            return 0
        coll = self.db[collection]
        if self.capabilities.large_bulk_writes:
            result = await coll.bulk_write(batch, ordered=False)
            return int(result.matched_count) + int(result.upserted_count)
        matched = 0
        async with self._writes:
            for start in range(0, len(batch), SMALL_CHUNK):
                result = await coll.bulk_write(batch[start : start + SMALL_CHUNK], ordered=False)
                matched += int(result.matched_count) + int(result.upserted_count)
        return matched

    async def put(self, collection: str, docs: dict[str, Document]) -> None:
        """Replace each document whole, inserting it if absent (one bulk write). Two
        writers inserting the same new document at once make one of them fail with a
        duplicate key on FerretDB: that one's documents exist by then and are replaced."""
        try:
            await self.write(collection, [Replace(i, d, upsert=True) for i, d in docs.items()])
        except BulkWriteError as exc:
            if refused_duplicates(exc) is None:
                raise
            await self.write(collection, [Replace(i, d) for i, d in docs.items()])
        except KeyError as exc:
            # FerretDB 1.24 answers such a refused upsert without `nModified`, which
            # PyMongo's result parser expects: the same duplicate, reported as a KeyError.
            if exc.args != ("nModified",):
                raise
            await self.write(collection, [Replace(i, d) for i, d in docs.items()])
