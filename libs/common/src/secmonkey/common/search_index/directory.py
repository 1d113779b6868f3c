"""Adding to the range directory (`rule_ranges`) from several replicas at once.

A range document lists the account-regions with a rule of that range, and `lengths` the
prefix lengths in use: documents that every partition adds to. On MongoDB an
`$addToSet` is atomic. FerretDB 1.24 applies an update by reading the document and
writing it back, unisolated: two processes adding to one document lose each other's
additions (measured: 1,200 concurrent `$addToSet` from three processes kept 183). So,
where writes are not conditional, an addition that is still missing is made while
holding the document's mutex: a unique insert in `rule_range_locks` (refused while
another replica holds it; broken when older than `STALE`, a replica that died holding
it). Additions are rare (a new range or prefix length in an account-region), so the
mutex is seldom taken; the check before it is one read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from secmonkey.common.errors import TransientError
from secmonkey.common.messages import utcnow
from secmonkey.common.storage import Document, Store, Update, insert_unique

LOCKS = "rule_range_locks"
STALE = timedelta(seconds=10)  # a lock is held for one write: older is a dead holder
WAIT = 40.0  # longer than STALE: a waiter breaks a dead holder's lock itself


def missing(doc: Document | None, update: Update) -> bool:
    """Whether `update` (`$addToSet` of `$each` lists) would still add anything."""
    for field, values in update.change.get("$addToSet", {}).items():
        have = set((doc or {}).get(field) or [])
        wanted = values["$each"] if isinstance(values, dict) else [values]
        if not set(wanted) <= have:
            return True
    return False


@contextlib.asynccontextmanager
async def locked(store: Store, doc_id: str) -> AsyncIterator[None]:
    """Hold `doc_id`'s mutex (a unique insert) for the duration."""
    locks = store.db[LOCKS]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    delay = 0.01
    while not await insert_unique(locks, {"_id": doc_id, "at": utcnow()}):
        await locks.delete_one({"_id": doc_id, "at": {"$lt": utcnow() - STALE}})
        if loop.time() > deadline:
            raise TransientError(f"the search directory entry {doc_id} stayed locked")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)
    try:
        yield
    finally:
        await locks.delete_one({"_id": doc_id})


def merged(updates: list[Update]) -> list[Update]:
    """One `$addToSet` per document: the union of what each update adds to each field."""
    fields: dict[str, dict[str, set[Any]]] = {}
    for update in updates:
        mine = fields.setdefault(update.id, {})
        for field, values in update.change.get("$addToSet", {}).items():
            wanted = values["$each"] if isinstance(values, dict) else [values]
            mine.setdefault(field, set()).update(wanted)
    return [
        Update(doc_id, {"$addToSet": {f: {"$each": sorted(v)} for f, v in sorted(adds.items())}})
        for doc_id, adds in sorted(fields.items())
    ]


async def add(store: Store, collection: str, updates: list[Update]) -> None:
    """Apply directory additions so that none is lost to a concurrent writer."""
    if store.conditional_writes or not updates:
        await store.write(collection, updates)
        return
    updates = merged(updates)
    current = await store.read(collection, [u.id for u in updates])
    for update in updates:
        if not missing(current.get(update.id), update):
            continue
        async with locked(store, f"{collection}:{update.id}"):
            await store.write(collection, [update])
