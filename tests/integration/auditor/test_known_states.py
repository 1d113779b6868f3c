"""What the place roster knows of each group lets the auditor decide a new group and an
unchanged one without reading its item; whatever the roster does not know exactly is
decided on the item, so that a crash at any point never hides a change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from secmonkey.auditor.decide import known_state
from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common import place_rosters
from secmonkey.common.storage import Database, Document, Store, WriteOp
from tests.integration.auditor.kit import (
    ACCOUNT,
    ATTACHED,
    REGION,
    at,
    batch,
    completed,
    ingress,
    key,
    snap,
)

SSH = ingress(22, "0.0.0.0/0")
HTTPS = ingress(443, "10.0.0.0/8")
MOVED = ATTACHED.model_copy(update={"instance_ids": ["i-2"]})


class WatchedStore(Store):
    """The real store, counting item reads and able to stop right after an item write
    (a process that dies once its commit is made)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.item_reads = 0
        self.die_after_item_write = False

    async def read(
        self, collection: str, ids: Sequence[str], projection: dict[str, Any] | None = None
    ) -> dict[str, Document]:
        if collection == "items":
            self.item_reads += len(set(ids))
        return await super().read(collection, ids, projection)

    async def write(self, collection: str, ops: Iterable[WriteOp]) -> int:
        matched = await super().write(collection, ops)
        if collection == "items" and self.die_after_item_write:
            self.die_after_item_write = False
            raise AutoReconnect("the process stopped after its item write (injected)")
        return matched


async def entries(db: Database) -> dict[str, place_rosters.Entry]:
    return (await place_rosters.entries(Store(db), [(ACCOUNT, REGION)]))[(ACCOUNT, REGION)]


async def test_new_and_unchanged_groups_are_decided_without_reading_their_items(
    db: Database,
) -> None:
    store = WatchedStore(db)
    auditor = Auditor(db, RulesConfig(), store=store)
    events = await auditor.handle(batch(0, snap("sg-a", SSH), snap("sg-b")))
    assert sorted(e.type for e in events if e.type.startswith("group.")) == ["group.created"] * 2
    assert store.item_reads == 0
    item = await db.items.find_one({"_id": key("sg-a")})
    assert item is not None
    known = known_state(1, item["audit_key"], item["attachments"])
    assert (await entries(db))["sg-a"] == known

    assert await auditor.handle(batch(60, snap("sg-a", SSH), snap("sg-b"))) == []
    assert store.item_reads == 0
    item = await db.items.find_one({"_id": key("sg-a")})
    assert item is not None and item["last_seen"] == at(60) and item["seq"] == 1

    # A change is decided on the item, and the entry follows the new revision.
    events = await auditor.handle(batch(120, snap("sg-a", SSH, HTTPS), snap("sg-b")))
    assert [(e.type, e.seq) for e in events if e.type.startswith("group.")] == [
        ("group.changed", 2)
    ]
    assert store.item_reads == 1
    item = await db.items.find_one({"_id": key("sg-a")})
    assert item is not None
    assert (await entries(db))["sg-a"] == known_state(2, item["audit_key"], item["attachments"])


async def test_a_deleted_group_seen_again_is_restored_not_created_twice(db: Database) -> None:
    """Struck off the roster once deleted, the group looks new to it: the revision it
    would write first is already stored, so it is decided again on its item."""
    auditor = Auditor(db, RulesConfig())
    await auditor.handle(batch(0, snap("sg-a"), snap("sg-b")))
    await auditor.handle(completed(5, ["sg-a"]))
    assert "sg-b" not in await entries(db)
    events = await auditor.handle(batch(10, snap("sg-a"), snap("sg-b", SSH)))
    assert [(e.type, e.seq) for e in events if e.type.startswith("group.")] == [
        ("group.restored", 3)
    ]
    revisions = await db.revisions.find({"key": key("sg-b")}).sort("seq", 1).to_list(None)
    assert [(r["seq"], r["change_type"]) for r in revisions] == [
        (1, "created"),
        (2, "deleted"),
        (3, "restored"),
    ]


async def test_a_stop_after_an_item_write_leaves_the_entry_unknown(db: Database) -> None:
    """New attachments move on the hot path: the entry is set unknown before the item is
    written, so a process that stops before recording the new state cannot leave an entry
    that still says the old attachments (which would hide their return)."""
    store = WatchedStore(db)
    auditor = Auditor(db, RulesConfig(), store=store)
    await auditor.handle(batch(0, snap("sg-a", HTTPS)))
    store.die_after_item_write = True
    with pytest.raises(AutoReconnect):
        await auditor.handle(batch(60, snap("sg-a", HTTPS, attachments=MOVED)))
    assert (await entries(db))["sg-a"] == place_rosters.UNKNOWN
    item = await db.items.find_one({"_id": key("sg-a")})
    assert item is not None and item["attachments"]["instance_ids"] == ["i-2"]

    # The attachments come back: decided on the item (the entry knows nothing), recorded.
    reads = store.item_reads
    await auditor.handle(batch(120, snap("sg-a", HTTPS)))
    assert store.item_reads == reads + 1
    item = await db.items.find_one({"_id": key("sg-a")})
    assert item is not None and item["attachments"]["instance_ids"] == ["i-1"]
    assert (await entries(db))["sg-a"] == known_state(1, item["audit_key"], item["attachments"])
