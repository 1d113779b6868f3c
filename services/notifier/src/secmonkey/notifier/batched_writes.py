"""Group commit: the notifier's writes go through one writer task, batched where possible.

Each small write costs a round trip and, on FerretDB over SQLite, a transaction of its
own, and concurrent writers there mostly wait on each other's locks (measured: 100
concurrent inserts take 30x as long as one `insert_many` of the same documents). So
callers await their own result while one writer sends whatever has queued up
meanwhile: inserts as one unordered `insert_many` (duplicates reported per document),
updates and deletes by `_id` one after another. At low load a batch
is one write; under a burst the batches grow by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from pymongo.errors import BulkWriteError, OperationFailure

from secmonkey.common.mongo import TRANSIENT_ERRORS, Database

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
MAX_BATCH = 500
# FerretDB scans for `{"_id": {"$in": ids}}` (about 0.3 ms a document) but deletes one
# `_id` by primary key (about 10 ms a command under load): one `delete_many` pays when
# the batch is at least 1/30 of the collection. MongoDB uses the `_id` index for both.
_SCAN_RATIO = 30
T = TypeVar("T")
_RETRYABLE: tuple[type[Exception], ...] = (*TRANSIENT_ERRORS, OperationFailure)


def is_busy(exc: Exception) -> bool:
    """FerretDB over SQLite answers a write that met a lock with an InternalError, not a retry."""
    return isinstance(exc, OperationFailure) and "SQLITE_BUSY" in str(exc)


async def persist(operation: Callable[[], Awaitable[T]], what: str, attempts: int = 12) -> T:
    """Run a write, retrying briefly while the database is busy or unreachable."""
    delay = 0.02
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except _RETRYABLE as exc:
            if attempt == attempts or not (isinstance(exc, TRANSIENT_ERRORS) or is_busy(exc)):
                raise
            log.debug("%s: database busy (%s); retry %d in %.2fs", what, exc, attempt, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


@dataclass
class _Pending:
    inserts: list[tuple[dict[str, Any], asyncio.Future[bool]]] = field(default_factory=list)
    updates: list[tuple[dict[str, Any], dict[str, Any], asyncio.Future[None]]] = field(
        default_factory=list
    )
    deletes: list[tuple[Any, asyncio.Future[None]]] = field(default_factory=list)


class BatchedWrites:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: dict[str, _Pending] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # Documents this process inserted and has not deleted, per collection: what a
        # delete by `$in` would have to scan on FerretDB (other replicas' are not known).
        self._sizes: dict[str, int] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notifier batched writes")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=30)

    async def insert(self, collection: str, docs: list[dict[str, Any]]) -> list[bool]:
        """Insert `docs`; for each, True when it is new, False when its `_id` existed."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in docs]
        pending = self._queue(collection)
        pending.inserts.extend(zip(docs, futures, strict=True))
        self._wake.set()
        return list(await asyncio.gather(*futures))

    async def update(self, collection: str, query: dict[str, Any], update: dict[str, Any]) -> None:
        """`update_one`, sent in turn with the other writes rather than concurrently."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue(collection).updates.append((query, update, future))
        self._wake.set()
        await future

    async def delete(self, collection: str, ids: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in ids]
        self._queue(collection).deletes.extend(zip(ids, futures, strict=True))
        self._wake.set()
        await asyncio.gather(*futures)

    def _queue(self, collection: str) -> _Pending:
        if self._closing and self._task is not None and self._task.done():
            raise RuntimeError("batched writes are stopped")
        return self._pending.setdefault(collection, _Pending())

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batches, self._pending = self._pending, {}
                for collection, pending in batches.items():
                    for start in range(0, len(pending.inserts), MAX_BATCH):
                        await self._insert(collection, pending.inserts[start : start + MAX_BATCH])
                    for query, update, future in pending.updates:
                        await self._update(collection, query, update, future)
                    for start in range(0, len(pending.deletes), MAX_BATCH):
                        await self._delete(collection, pending.deletes[start : start + MAX_BATCH])
            if self._closing:
                return

    async def _insert(
        self, collection: str, batch: list[tuple[dict[str, Any], asyncio.Future[bool]]]
    ) -> None:
        docs = [doc for doc, _ in batch]
        retried = False

        async def write() -> set[int]:
            nonlocal retried
            attempt_retried, retried = retried, True
            try:
                await self.db[collection].insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in errors):
                    raise
                # A duplicate on a retried batch may be our own earlier partial write.
                return set() if attempt_retried else {e["index"] for e in errors}
            return set()

        try:
            duplicates = await persist(write, f"inserting into {collection}")
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self._sizes[collection] = self._sizes.get(collection, 0) + len(batch) - len(duplicates)
        for i, (_, future) in enumerate(batch):
            if not future.done():
                future.set_result(i not in duplicates)

    async def _update(
        self,
        collection: str,
        query: dict[str, Any],
        update: dict[str, Any],
        future: asyncio.Future[None],
    ) -> None:
        try:
            await persist(
                lambda: self.db[collection].update_one(query, update), f"updating {collection}"
            )
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(None)

    async def _delete_one(self, collection: str, doc_id: Any) -> None:
        await self.db[collection].delete_one({"_id": doc_id})
        self._sizes[collection] = max(0, self._sizes.get(collection, 0) - 1)

    async def _delete_many(self, collection: str, ids: list[Any]) -> None:
        await self.db[collection].delete_many({"_id": {"$in": ids}})

    def _size_estimate(self, collection: str) -> int:
        return self._sizes.get(collection, 0)

    async def _delete(self, collection: str, batch: list[tuple[Any, asyncio.Future[None]]]) -> None:
        if len(batch) > 1 and len(batch) * _SCAN_RATIO >= self._size_estimate(collection):
            ids = [doc_id for doc_id, _ in batch]
            try:
                await persist(
                    partial(self._delete_many, collection, ids), f"deleting from {collection}"
                )
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                return
            self._sizes[collection] = max(0, self._sizes.get(collection, 0) - len(ids))
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
            return
        for doc_id, future in batch:
            try:
                await persist(partial(self._delete_one, collection, doc_id), "deleting")
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(None)
