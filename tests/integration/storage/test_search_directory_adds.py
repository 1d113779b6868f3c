"""Range-directory additions among concurrent writers: many messages of one process and
another process adding to the same documents at once lose nothing, and an addition a
process knows is there costs no command."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from secmonkey.common import storage
from secmonkey.common.messages import utcnow as storage_now
from secmonkey.common.search_index import directory
from secmonkey.common.search_index.format import places_ids
from secmonkey.common.storage import Database, Document, Store, Update, WriteOp
from tests.integration.finds import LockCounting

pytestmark = pytest.mark.integration

RANGES = "rule_ranges"


def place_added(doc_id: str, place: str) -> Update:
    return Update(doc_id, {"$addToSet": {"places": {"$each": [place]}}})


class CountingStore(Store):
    """The real store, counting the commands it sends for the directory."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.commands = 0

    async def read(
        self, collection: str, ids: Sequence[str], projection: dict[str, Any] | None = None
    ) -> dict[str, Document]:
        self.commands += bool(ids)
        return await super().read(collection, ids, projection)

    async def write(self, collection: str, ops: Iterable[WriteOp]) -> int:
        ops = list(ops)
        self.commands += bool(ops)
        return await super().write(collection, ops)

    async def insert(self, collection: str, docs: Sequence[Document]) -> set[int]:
        self.commands += bool(docs)
        return await super().insert(collection, docs)

    async def delete_small(self, collection: str, ids: Sequence[Any]) -> int:
        self.commands += bool(ids)
        return await super().delete_small(collection, ids)


async def test_concurrent_additions_from_two_processes_are_all_kept(
    db: Database, mongo_url: str
) -> None:
    other_client = storage.connect(mongo_url)  # another process: its own client and memory
    try:
        await storage.detect(other_client)
        mine, theirs = Store(db), Store(other_client[db.name])
        docs = ["ingress:4:0:00", "ingress:4:8:0a"]

        async def message(store: Store, n: int) -> None:
            updates = [place_added(d, f"aws:{n:012d}:eu-west-1") for d in docs]
            await directory.add(store, RANGES, updates)

        await asyncio.gather(
            *(message(mine, n) for n in range(0, 40)),
            *(message(theirs, n) for n in range(40, 60)),
        )
        for doc_id in docs:
            doc = await db[RANGES].find_one({"_id": doc_id})
            assert doc is not None
            assert sorted(doc["places"]) == [f"aws:{n:012d}:eu-west-1" for n in range(60)]
        assert await db[directory.LOCKS].count_documents({}) == 0  # every mutex released
    finally:
        await other_client.close()


async def test_an_addition_the_process_knows_is_there_costs_no_command(db: Database) -> None:
    store = CountingStore(db)
    update = place_added("ingress:4:0:00", "aws:111111111111:eu-west-1")
    await directory.add(store, RANGES, [update])
    assert store.commands > 0
    store.commands = 0
    await directory.add(store, RANGES, [update])
    assert store.commands == 0

    # Another process added a place: this one reads nothing again, and its own new
    # addition is written (under the mutex) beside the other's.
    await db[RANGES].update_one(
        {"_id": "ingress:4:0:00"}, {"$addToSet": {"places": "aws:222222222222:eu-west-1"}}
    )
    await directory.add(
        store, RANGES, [place_added("ingress:4:0:00", "aws:333333333333:eu-west-1")]
    )
    doc = await db[RANGES].find_one({"_id": "ingress:4:0:00"})
    assert doc is not None and sorted(doc["places"]) == [
        "aws:111111111111:eu-west-1",
        "aws:222222222222:eu-west-1",
        "aws:333333333333:eu-west-1",
    ]


async def test_an_addition_waits_for_another_holder_and_breaks_a_dead_ones_mutex(
    db: Database,
) -> None:
    store = Store(db)
    await db[directory.LOCKS].insert_one(
        {"_id": f"{RANGES}:ingress:4:0:00", "at": storage_now()}
    )  # held by another process
    adding = asyncio.create_task(
        directory.add(store, RANGES, [place_added("ingress:4:0:00", "aws:1:eu-west-1")])
    )
    await asyncio.sleep(0.3)
    assert not adding.done()
    assert (await db[RANGES].find_one({"_id": "ingress:4:0:00"})) == {"_id": "ingress:4:0:00"}
    await db[directory.LOCKS].delete_one({"_id": f"{RANGES}:ingress:4:0:00"})  # released
    await asyncio.wait_for(adding, 5)
    doc = await db[RANGES].find_one({"_id": "ingress:4:0:00"})
    assert doc is not None and doc["places"] == ["aws:1:eu-west-1"]

    # A mutex older than STALE is a dead holder's: broken, and the addition made.
    await db[directory.LOCKS].insert_one(
        {"_id": f"{RANGES}:ingress:4:0:00", "at": storage_now() - 2 * directory.STALE}
    )
    await asyncio.wait_for(
        directory.add(store, RANGES, [place_added("ingress:4:0:00", "aws:2:eu-west-1")]), 5
    )
    doc = await db[RANGES].find_one({"_id": "ingress:4:0:00"})
    assert doc is not None and sorted(doc["places"]) == ["aws:1:eu-west-1", "aws:2:eu-west-1"]
    assert await db[directory.LOCKS].count_documents({}) == 0


async def test_owned_shards_are_added_without_a_mutex_and_lose_nothing(db: Database) -> None:
    """A replica's own shards (`owned`: its partitions' places) take no mutex; its
    messages adding at once still lose nothing (they are made one turn at a time), and a
    document that is not a shard (`lengths`) still takes its mutex."""
    store = LockCounting(db)
    shard = "ingress:4:0:00#07"

    async def message(n: int) -> None:
        updates = [
            place_added(shard, f"aws:{n:012d}:eu-west-1"),
            Update("lengths", {"$addToSet": {"ingress4": {"$each": [n % 3]}}}),
        ]
        await directory.add(store, RANGES, updates, owned=True)

    await asyncio.gather(*(message(n) for n in range(30)))
    doc = await db[RANGES].find_one({"_id": shard})
    assert doc is not None
    assert sorted(doc["places"]) == [f"aws:{n:012d}:eu-west-1" for n in range(30)]
    lengths = await db[RANGES].find_one({"_id": "lengths"})
    assert lengths is not None and sorted(lengths["ingress4"]) == [0, 1, 2]
    assert store.locked and set(store.locked) == {f"{RANGES}:lengths"}

    # Not owned (a backfill, or no partitions): the shard takes its mutex as before.
    await directory.add(
        store, RANGES, [place_added(shard, "aws:999999999999:eu-west-1")], owned=False
    )
    assert f"{RANGES}:{shard}" in store.locked


async def test_a_range_lists_its_places_in_its_head_then_in_shards_it_lists(
    db: Database, mongo_url: str
) -> None:
    """A range's head lists its places up to `HEAD_PLACES`; the places added beyond go to
    their shards, whose numbers the head lists, even when two processes add at once."""
    other_client = storage.connect(mongo_url)
    try:
        await storage.detect(other_client)
        mine, theirs = Store(db), Store(other_client[db.name])
        head = "ingress:4:0:00"
        count = directory.HEAD_PLACES + 40
        places = [f"aws:{n:012d}:eu-west-1" for n in range(count)]
        # The first HEAD_PLACES - 8 in one message; then one message per place, from both.
        await directory.add(mine, RANGES, [place_added(head, p) for p in places[:-48]])
        await asyncio.gather(
            *(directory.add(mine, RANGES, [place_added(head, p)]) for p in places[-48::2]),
            *(directory.add(theirs, RANGES, [place_added(head, p)]) for p in places[-47::2]),
        )
        doc = await db[RANGES].find_one({"_id": head})
        assert doc is not None and len(doc["places"]) <= directory.HEAD_PLACES + 8
        shards = await db[RANGES].find({"_id": {"$in": places_ids(head)[1:]}}).to_list(None)
        assert sorted(doc["shards"]) == sorted(int(s["_id"].split("#")[1]) for s in shards)
        listed = set(doc["places"]) | {p for s in shards for p in s["places"]}
        assert listed == set(places)  # every place, in the head or in a listed shard
    finally:
        await other_client.close()


async def test_two_writers_putting_the_same_new_documents_at_once_both_succeed(
    db: Database, mongo_url: str
) -> None:
    """`Store.put` (a mark's token): inserted if absent, else replaced; where two writers
    insert the same new document at once and the server refuses one (FerretDB's upsert),
    that one replaces it."""
    other_client = storage.connect(mongo_url)
    try:
        await storage.detect(other_client)
        mine, theirs = Store(db), Store(other_client[db.name])
        ids = [f"mark-{n}" for n in range(5)]
        await asyncio.gather(
            *(mine.put("rule_marks", {i: {"t": f"a{n}"} for i in ids}) for n in range(10)),
            *(theirs.put("rule_marks", {i: {"t": f"b{n}"} for i in ids}) for n in range(10)),
        )
        docs = await db.rule_marks.find({"_id": {"$in": ids}}).to_list(None)
        assert sorted(d["_id"] for d in docs) == ids
        assert all(set(d) == {"_id", "t"} and d["t"][0] in "ab" for d in docs)
    finally:
        await other_client.close()
