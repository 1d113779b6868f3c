"""Adding to the range directory (`rule_ranges`) from several replicas at once.

A range's head lists the account-regions with a rule of that range up to `HEAD_PLACES`,
then the numbers of the shards that list the others (`placed`; `format.py`), and
`lengths` the prefix lengths in use: documents that every partition adds to, and nothing
removes from. On MongoDB an `$addToSet` is atomic. FerretDB 1.24 applies an update by reading the
document and writing it back, unisolated: two processes adding to one document lose each
other's additions (measured: 1,200 concurrent `$addToSet` from three processes kept 183).
So, where writes are not conditional, an addition is made while holding the document's
mutex: a unique insert in `rule_range_locks` (refused while another replica holds it;
broken when older than `STALE`, a replica that died holding it), except to a shard whose
places are all of partitions this replica holds (`owned`, `format.shards_owned`): no
other replica writes it, and this process's additions are made one turn at a time.

A process remembers what it has read and added of each document (only additions
happen, so what it remembers stays true): an addition it knows is there costs nothing,
and a document is read only the first time. The additions its messages are waiting to
make, to any document, are made together by whichever takes the turn: the mutexes of
their documents in one insert, the additions in one bulk write, the mutexes released in
one more (a document whose mutex another process holds waits for the next turn).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from secmonkey.common.errors import TransientError
from secmonkey.common.messages import utcnow
from secmonkey.common.search_index.format import HEAD_PLACES, is_shard, places_id, shard_of
from secmonkey.common.storage import Document, Store, Update

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
    store: Store,
    collection: str,
    updates: list[Update],
    *,
    owned: bool = False,
) -> bool:
    """Apply directory additions so that none is lost to a concurrent writer. A range's
    places go to its head while it holds at most `HEAD_PLACES` and lists no shard, else
    to their shards (`placed`). Each document added to is made empty first if missing (a
    refused insert is harmless; a racing upsert is not); `owned`: the shards they add to
    are written by this replica alone. Whether any addition was new to this process (made
    now, or found made by another writer): the directory's mark is then set anew by the
    caller."""
    known = _known_of(store, collection)
    updates = merged(updates)
    await _see(store, collection, known, [u.id for u in updates])
    updates, heading = placed(updates, known)
    try:
        updates = merged(updates)
        await _see(store, collection, known, [u.id for u in updates])
        updates = [u for u in updates if not known.has(u)]
        if not updates:
            return False
        await store.insert(collection, [{"_id": u.id} for u in updates if u.id not in known.ids])
        if store.conditional_writes:
            await store.write(collection, updates)
        else:
            await _add_locked(store, collection, updates, owned)
        for update in updates:
            known.learn(update)
        return True
    finally:
        for head, count in heading.items():
            left = known.heading.pop(head) - count
            if left:
                known.heading[head] = left


def placed(updates: list[Update], known: _Known) -> tuple[list[Update], dict[str, int]]:
    """Each update adding places to a range's head, as it is to be made: to the head while
    the head would then list at most `HEAD_PLACES` (those known there, and those this
    process's other messages are adding) and no shard; else each new place to its shard
    (`places_id`) and the shards' numbers to the head (`shards`). And how many places
    are being added to each head (counted in `known.heading` until the caller is done)."""
    out: list[Update] = []
    heading: dict[str, int] = {}
    for update in updates:
        places = _added(update).get("places")
        if places is None or is_shard(update.id):
            out.append(update)
            continue
        have = known.values.get((update.id, "places"), set())
        new = sorted(set(places) - have)
        sharded = bool(known.values.get((update.id, "shards")))
        coming = len(have) + known.heading.get(update.id, 0) + len(new)
        if not new or (not sharded and coming <= HEAD_PLACES):
            out.append(update)
            heading[update.id] = len(new)
            known.heading[update.id] = known.heading.get(update.id, 0) + len(new)
            continue
        for place in new:
            out.append(Update(places_id(update.id, place), {"$addToSet": {"places": place}}))
        shards = sorted({shard_of(p) for p in new})
        out.append(Update(update.id, {"$addToSet": {"shards": {"$each": shards}}}))
    return out, heading


async def _see(store: Store, collection: str, known: _Known, ids: list[str]) -> None:
    """Read the documents among `ids` this process has not seen yet."""
    unseen = sorted({i for i in ids if i not in known.ids})
    for doc in (await store.read(collection, unseen)).values():
        known.see(doc)


class _Known:
    """What this process knows is in a collection's directory documents: each document it
    has seen and each value it has added (values are never removed, so this only grows)."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.values: dict[tuple[str, str], set[Any]] = {}
        self.heading: dict[str, int] = {}  # places being added to each head (`placed`)

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


# An addition waiting for its turn: the update, its caller's future, and whether it adds
# to a shard this replica owns (no mutex).
_Addition = tuple[Update, "asyncio.Future[None]", bool]


class _Waiting:
    """The additions this process's messages are waiting to make, by document; whoever
    holds `turn` makes all of them (`_flush`)."""

    def __init__(self) -> None:
        self.turn = asyncio.Lock()
        self.additions: dict[str, list[_Addition]] = {}

    def put(self, entries: dict[str, list[_Addition]]) -> None:
        for doc_id, more in entries.items():
            self.additions.setdefault(doc_id, []).extend(more)


_WAITING: dict[tuple[int, str, str], _Waiting] = {}


async def _add_locked(store: Store, collection: str, updates: list[Update], owned: bool) -> None:
    """Where writes are not conditional: add under each document's mutex (not an `owned`
    shard's), together with whatever other messages of this process are adding meanwhile
    (to any document)."""
    waiting = _WAITING.setdefault((id(store.db.client), store.db.name, collection), _Waiting())
    loop = asyncio.get_running_loop()
    mine: list[asyncio.Future[None]] = []
    for update in updates:
        done: asyncio.Future[None] = loop.create_future()
        waiting.put({update.id: [(update, done, owned and is_shard(update.id))]})
        mine.append(done)
    deadline = loop.time() + WAIT
    delay = 0.01
    while True:
        async with waiting.turn:
            if not all(f.done() for f in mine):
                await _flush(store, collection, waiting)
        if all(f.done() for f in mine):
            return
        if loop.time() > deadline:
            raise TransientError(f"the search directory of {collection} stayed locked")
        await asyncio.sleep(delay)  # another process holds a document: try again
        delay = min(delay * 2, 0.5)


async def _flush(store: Store, collection: str, waiting: _Waiting) -> None:
    """Make every waiting addition whose document's mutex can be taken now: the mutexes in
    one insert, the additions in one bulk write, the mutexes released in one more. Those
    whose mutex another process holds wait for the next turn (a mutex older than `STALE`,
    a dead holder's, is broken)."""
    batch, waiting.additions = waiting.additions, {}
    own = sorted(i for i, adds in batch.items() if all(mine for _, _, mine in adds))
    ids = sorted(set(batch) - set(own))
    now = utcnow()
    try:
        refused = await store.insert(LOCKS, [{"_id": f"{collection}:{i}", "at": now} for i in ids])
        locked = [i for n, i in enumerate(ids) if n not in refused]
        held = own + locked
        try:
            combined = [merged([u for u, _, _ in batch[i]])[0] for i in held]
            await store.write(collection, combined)
        finally:
            await store.delete_small(LOCKS, [f"{collection}:{i}" for i in locked])
    except BaseException:
        waiting.put(batch)  # the next turn tries again
        raise
    for doc_id in held:
        for _, done, _ in batch.pop(doc_id):
            done.set_result(None)
    for doc_id in batch:
        await store.db[LOCKS].delete_one(
            {"_id": f"{collection}:{doc_id}", "at": {"$lt": now - STALE}}
        )
    waiting.put(batch)
