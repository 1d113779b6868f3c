"""Adding to the range directory (`rule_ranges`) from several replicas at once.

A range document lists the account-regions with a rule of that range, and `lengths` the
prefix lengths in use: documents that every partition adds to, and nothing removes from.
On MongoDB an `$addToSet` is atomic. FerretDB 1.24 applies an update by reading the
document and writing it back, unisolated: two processes adding to one document lose each
other's additions (measured: 1,200 concurrent `$addToSet` from three processes kept 183).
So, where writes are not conditional, an addition is made while holding the document's
mutex: a unique insert in `rule_range_locks` (refused while another replica holds it;
broken when older than `STALE`, a replica that died holding it).

A process remembers what it has read and added of each document (only additions
happen, so what it remembers stays true): an addition it knows is there costs nothing,
and a document is read only the first time. The additions that messages of one process
make to one document at the same moment (every new account-region adds itself to the
same few ranges) are written together, one update under one mutex.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
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


async def add(
    store: Store, collection: str, updates: list[Update], creates: Iterable[str] = ()
) -> None:
    """Apply directory additions so that none is lost to a concurrent writer; `creates`:
    the documents they add to, made empty first if missing (a refused insert is harmless;
    a racing upsert is not)."""
    known = _known_of(store, collection)
    updates = merged(updates)
    unseen = [u.id for u in updates if u.id not in known.ids]
    for doc in (await store.read(collection, unseen)).values():
        known.see(doc)
    await store.insert(collection, [{"_id": i} for i in sorted(set(creates)) if i not in known.ids])
    updates = [u for u in updates if not known.has(u)]
    if not updates:
        return
    if store.conditional_writes:
        await store.write(collection, updates)
    else:
        await asyncio.gather(*(_add_one(store, collection, u) for u in updates))
    for update in updates:
        known.learn(update)


class _Known:
    """What this process knows is in a collection's directory documents: each document it
    has seen and each value it has added (values are never removed, so this only grows)."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.values: dict[tuple[str, str], set[Any]] = {}

    def has(self, update: Update) -> bool:
        return update.id in self.ids and not missing(
            {f: self.values.get((update.id, f), ()) for f in _added(update)}, update
        )

    def see(self, doc: Document) -> None:
        self.ids.add(doc["_id"])
        for field, values in doc.items():
            if isinstance(values, list):
                self.values.setdefault((doc["_id"], field), set()).update(values)

    def learn(self, update: Update) -> None:
        self.ids.add(update.id)
        for field, values in _added(update).items():
            self.values.setdefault((update.id, field), set()).update(values)


_KNOWN: dict[tuple[int, str, str], _Known] = {}
_SLOTS: dict[tuple[int, str, str, str], _Slot] = {}


def forget(store: Store, collection: str) -> None:
    """Forget what this process knows of the directory (it is being built again)."""
    _KNOWN.pop((id(store.db.client), store.db.name, collection), None)


def _known_of(store: Store, collection: str) -> _Known:
    return _KNOWN.setdefault((id(store.db.client), store.db.name, collection), _Known())


def _added(update: Update) -> dict[str, list[Any]]:
    return {
        field: values["$each"] if isinstance(values, dict) else [values]
        for field, values in update.change.get("$addToSet", {}).items()
    }


class _Slot:
    """One directory document's additions waiting in this process: the first waiter to get
    the turn writes them all under the document's mutex, in one update."""

    def __init__(self) -> None:
        self.turn = asyncio.Lock()
        self.waiting: list[tuple[Update, asyncio.Future[bool]]] = []


async def _add_one(store: Store, collection: str, update: Update) -> None:
    """Where writes are not conditional: add under the document's mutex, together with
    whatever other messages of this process are adding to it meanwhile."""
    slot = _SLOTS.setdefault((id(store.db.client), store.db.name, collection, update.id), _Slot())
    while True:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        slot.waiting.append((update, done))
        async with slot.turn:
            if not done.done():
                batch, slot.waiting = slot.waiting, []
                try:
                    (combined,) = merged([u for u, _ in batch])
                    async with locked(store, f"{collection}:{update.id}"):
                        await store.write(collection, [combined])
                except BaseException:
                    for _, waiter in batch:
                        if not waiter.done():
                            waiter.set_result(False)  # each tries again itself
                    raise
                for _, waiter in batch:
                    waiter.set_result(True)
        if done.result():
            return
