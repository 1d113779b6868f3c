"""Group commit: many callers' small writes go through one writer task, batched where possible.

Each small write costs a round trip and, on FerretDB over SQLite, a transaction of its
own, and concurrent writers there mostly wait on each other's locks (measured: 100
concurrent inserts take 30x as long as one `insert_many` of the same documents). So
callers await their own result while one writer sends whatever has queued up
meanwhile: inserts as one unordered `insert_many` (duplicates reported per document),
updates and deletes by `_id` one after another, and "lazy" deletes (of what no reader
depends on being gone) gathered for a second into one `delete_many`. At low load a
batch is one write; under a burst the batches grow by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from pymongo.errors import BulkWriteError

from secmonkey.common.storage.client import Database
from secmonkey.common.storage.errors import refused_duplicates
from secmonkey.common.storage.retry import with_retry

log = logging.getLogger(__name__)

MAX_BATCH = 500
# Lazy deletes wait this long to be sent together: FerretDB scans the whole collection
# for `{"_id": {"$in": ids}}`, so fewer, larger deletes cost much less.
LAZY_DELETE_SECONDS = 1.0
# Lingering inserts wait this long for company.
LINGER_SECONDS = 0.2
T = TypeVar("T")


async def persist(operation: Callable[[], Awaitable[T]], what: str) -> T:
    """Run a write, retrying briefly while the database is busy or unreachable."""
    return await with_retry(operation, what=what, attempts=12, base_delay=0.02, max_delay=2.0)


@dataclass
class _Pending:
    inserts: list[tuple[dict[str, Any], asyncio.Future[bool]]] = field(default_factory=list)
    updates: list[tuple[dict[str, Any], dict[str, Any], asyncio.Future[None]]] = field(
        default_factory=list
    )
    deletes: list[tuple[Any, asyncio.Future[None]]] = field(default_factory=list)


class GroupCommit:
    """One writer task per process; callers await their own writes' results."""

    def __init__(
        self,
        db: Database,
        *,
        lazy_delete_seconds: float = LAZY_DELETE_SECONDS,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self.db = db
        self.lazy_delete_seconds = lazy_delete_seconds
        self.linger_seconds = linger_seconds
        self._lingering: dict[str, list[tuple[dict[str, Any], asyncio.Future[bool]]]] = {}
        self._deleting: asyncio.Task[None] | None = None
        self._linger_due = float("inf")
        self._pending: dict[str, _Pending] = {}
        self._lazy: dict[str, list[Any]] = {}
        self._lazy_due = float("inf")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group commit")

    async def stop(self) -> None:
        """Write what is queued (lazy deletes too), then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout=30)

    async def insert(
        self, collection: str, docs: list[dict[str, Any]], *, linger: bool = False
    ) -> list[bool]:
        """Insert `docs`; for each, True when it is new, False when its `_id` existed.

        With `linger` the documents wait up to `linger_seconds` for others to join them:
        fewer, larger commands, for writes nobody waits on to see.
        """
        if not docs:
            return []
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in docs]
        if linger:
            if self._closing and self._task is not None and self._task.done():
                raise RuntimeError("batched writes are stopped")
            if not self._lingering:
                self._linger_due = time.monotonic() + self.linger_seconds
            self._lingering.setdefault(collection, []).extend(zip(docs, futures, strict=True))
        else:
            self._queue(collection).inserts.extend(zip(docs, futures, strict=True))
        self._wake.set()
        return list(await asyncio.gather(*futures))

    async def update(self, collection: str, query: dict[str, Any], update: dict[str, Any]) -> None:
        """`update_one`, sent in turn with the other writes rather than concurrently."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue(collection).updates.append((query, update, future))
        self._wake.set()
        await future

    async def delete(self, collection: str, ids: list[Any]) -> None:
        """Delete by `_id`, now."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in ids]
        self._queue(collection).deletes.extend(zip(ids, futures, strict=True))
        self._wake.set()
        await asyncio.gather(*futures)

    def delete_later(self, collection: str, ids: list[Any]) -> None:
        """Delete by `_id` within `lazy_delete_seconds`, together with others (best effort)."""
        if self._closing and self._task is not None and self._task.done():
            raise RuntimeError("batched writes are stopped")
        if not self._lazy:
            self._lazy_due = time.monotonic() + self.lazy_delete_seconds
        self._lazy.setdefault(collection, []).extend(ids)
        self._wake.set()

    def _queue(self, collection: str) -> _Pending:
        if self._closing and self._task is not None and self._task.done():
            raise RuntimeError("batched writes are stopped")
        return self._pending.setdefault(collection, _Pending())

    def _next_timer(self) -> float | None:
        due = min(
            self._lazy_due if self._lazy else float("inf"),
            self._linger_due if self._lingering else float("inf"),
        )
        return None if due == float("inf") else max(0.0, due - time.monotonic())

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._next_timer())
            self._wake.clear()
            if self._lingering and (self._closing or time.monotonic() >= self._linger_due):
                lingering, self._lingering = self._lingering, {}
                for collection, items in lingering.items():
                    self._pending.setdefault(collection, _Pending()).inserts.extend(items)
            while self._pending:
                if self._lazy and time.monotonic() >= self._lazy_due:
                    await self._flush_lazy()
                batches, self._pending = self._pending, {}
                for collection, pending in batches.items():
                    for start in range(0, len(pending.inserts), MAX_BATCH):
                        await self._insert(collection, pending.inserts[start : start + MAX_BATCH])
                    for query, update, future in pending.updates:
                        await self._update(collection, query, update, future)
                    for doc_id, future in pending.deletes:
                        await self._settle(future, partial(self._delete_one, collection, doc_id))
            if self._lazy and (self._closing or time.monotonic() >= self._lazy_due):
                await self._flush_lazy()
            if self._closing and not (self._pending or self._lazy or self._lingering):
                return

    async def _flush_lazy(self) -> None:
        """Send the lazy deletes beside the other writes: a `delete_many` by `$in` is mostly
        a scan on FerretDB, which need not hold up the inserts queued behind it."""
        if self._deleting is not None and not self._deleting.done():
            if not self._closing:
                self._lazy_due = time.monotonic() + 0.1  # look again once it is done
                return
            await self._deleting
        lazy, self._lazy = self._lazy, {}

        async def delete() -> None:
            for collection, ids in lazy.items():
                for start in range(0, len(ids), MAX_BATCH):
                    await self._delete_many(collection, ids[start : start + MAX_BATCH])

        self._deleting = asyncio.create_task(delete(), name="group commit lazy deletes")
        if self._closing:
            await self._deleting

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
                refused = refused_duplicates(exc)
                if refused is None:
                    raise
                # A duplicate on a retried batch may be our own earlier partial write.
                return set() if attempt_retried else refused
            return set()

        try:
            duplicates = await persist(write, f"inserting into {collection}")
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
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
        async def write() -> None:
            await self.db[collection].update_one(query, update)

        await self._settle(future, write)

    async def _delete_one(self, collection: str, doc_id: Any) -> None:
        await self.db[collection].delete_one({"_id": doc_id})

    async def _delete_many(self, collection: str, ids: list[Any]) -> None:
        async def write() -> None:
            await self.db[collection].delete_many({"_id": {"$in": ids}})

        try:
            await persist(write, f"deleting from {collection}")
        except Exception:
            log.warning(
                "could not delete %d documents from %s", len(ids), collection, exc_info=True
            )

    @staticmethod
    async def _settle(
        future: asyncio.Future[None], operation: Callable[[], Awaitable[None]]
    ) -> None:
        try:
            await persist(operation, "writing")
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(None)
