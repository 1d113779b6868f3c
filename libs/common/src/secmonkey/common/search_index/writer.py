"""Keeping the search index: each change filed before its item commits, and a one-time
backfill of items stored before the index existed (see README.md)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.errors import TransientError
from secmonkey.common.messages import utcnow
from secmonkey.common.search_index import directory, marks
from secmonkey.common.search_index.edits import (
    RESOLUTION_FIELDS,
    LookupWrites,
    delta_writes,
    group_id_writes,
)
from secmonkey.common.search_index.format import (
    BUILT_ID,
    GROUP_IDS,
    LISTED_ID,
    POSTINGS,
    RANGES,
    GroupIdEdit,
    Posting,
    PostingEdit,
    is_shard,
    posting_place,
    postings_of,
    shards_owned,
    split_shard,
)
from secmonkey.common.storage import Document, Replace, Store, Update, WriteOp, insert_unique

log = logging.getLogger(__name__)

ROUNDS = 5
BACKFILL_BATCH = 500


class Change(Protocol):
    """One revision of a group, as the index needs it."""

    @property
    def kind(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def config(self) -> CanonicalGroup: ...
    @property
    def observed_at(self) -> datetime: ...
    @property
    def account_id(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def previous(self) -> Document | None: ...


def _postings_before(change: Change) -> list[Posting]:
    previous = change.previous
    if previous is None or previous.get("state") != "active":
        return []  # new, or deleted (a deletion removed its postings)
    return postings_of(change.key, CanonicalGroup.model_validate(previous["config"]))


def _postings_after(change: Change) -> list[Posting]:
    return [] if change.kind == "deleted" else postings_of(change.key, change.config)


def _resolution_item(change: Change, account_name: str | None) -> Document:
    deleted = change.kind == "deleted"
    return {
        "_id": change.key,
        "account_id": change.account_id,
        "account_name": account_name,
        "region": change.region,
        "vpc_id": change.config.vpc_id,
        "group_id": change.config.group_id,
        "name": change.config.name,
        "state": "deleted" if deleted else "active",
        "deleted_at": change.observed_at if deleted else None,
        "seq": change.seq,
    }


class IndexWriter:
    """Writes the index's documents through the storage seam."""

    def __init__(self, store: Store, *, partitions: int = 0) -> None:
        """`partitions`: how many the process's account-regions are partitioned in, where
        it holds its partitions alone (else 0): the directory shards of its places may
        then be its alone to write (`format.shards_owned`)."""
        self.store = store
        self.shards_owned = shards_owned(partitions)

    async def file(self, changes: list[Change], account_name: Callable[[str], str | None]) -> None:
        """The postings and group-ID lookups of these revisions, before their commit.

        Each group's lookups are written as of its new revision (`seq`) and never replace
        those of a later one, so a replay after a crash, or a competing writer's late
        write, leaves the newest revision's lookups in place.
        """
        writes = group_id_writes([_resolution_item(c, account_name(c.account_id)) for c in changes])
        for c in changes:
            writes.extend(delta_writes(_postings_before(c), _postings_after(c), c.seq))
        # A group seen for the first time most likely has no lookup document of its ID yet,
        # nor (in a new account-region) posting documents: they are inserted without a read.
        unseen: set[tuple[str, str]] = set()
        for c in changes:
            if c.previous is None:
                unseen.add((GROUP_IDS, c.config.group_id))
                unseen.update((POSTINGS, p.doc_id) for p in _postings_after(c))
        await self._write(writes, unseen, owned=self.shards_owned)

    async def backfill(self) -> int:
        """File the lookups of items stored before they existed, then list every range's
        shards in its head (`list_shards`); the number of items filed.

        Each runs once per database (a marker records it); idempotent if replicas race.
        """
        count = await self._file_stored()
        await self.list_shards()
        return count

    async def list_shards(self) -> int:
        """List each range's shards in its head, where older auditors wrote shards without
        (once per database, `LISTED_ID`): until then readers read every shard. The number
        of ranges listed."""
        ranges = self.store.db[RANGES]
        if await ranges.find_one({"_id": LISTED_ID}) is not None:
            return 0
        heads: dict[str, set[int]] = defaultdict(set)
        async for doc in ranges.find({}, {"_id": 1}):
            if is_shard(doc["_id"]):
                range_, shard = split_shard(doc["_id"])
                heads[range_].add(shard)
        listed = sorted(heads.items())
        for start in range(0, len(listed), BACKFILL_BATCH):
            chunk = listed[start : start + BACKFILL_BATCH]
            adds = [Update(r, {"$addToSet": {"shards": {"$each": sorted(n)}}}) for r, n in chunk]
            await directory.add(self.store, RANGES, adds)
        directory.forget(self.store, RANGES)  # (what it learnt of every range: memory only)
        await insert_unique(ranges, {"_id": LISTED_ID, "ranges": len(listed), "at": utcnow()})
        await marks.touch(self.store, {marks.DIRECTORY})
        if listed:
            log.info("listed the shards of %d ranges in their heads", len(listed))
        return len(listed)

    async def _file_stored(self) -> int:
        ranges = self.store.db[RANGES]
        if await ranges.find_one({"_id": BUILT_ID}) is not None:
            return 0
        directory.forget(self.store, RANGES)
        count = 0
        projection = dict.fromkeys(RESOLUTION_FIELDS, 1)
        projection |= {"_id": 1, "group_id": 1, "deleted_at": 1, "config": 1, "seq": 1}
        batch: list[Document] = []

        async def flush() -> None:
            writes = group_id_writes(batch)
            for d in batch:
                if d.get("state") == "active":
                    filed = postings_of(d["_id"], CanonicalGroup.model_validate(d["config"]))
                    writes.extend(delta_writes([], filed, int(d["seq"])))
            await self._write(writes)
            batch.clear()

        async for doc in self.store.db.items.find({}, projection):
            batch.append(doc)
            count += 1
            if len(batch) >= BACKFILL_BATCH:
                await flush()
        await flush()
        # A unique insert: replicas starting together both get here (an upsert racing on
        # FerretDB fails with a duplicate key), and either marker will do.
        await insert_unique(ranges, {"_id": BUILT_ID, "items": count, "at": utcnow()})
        log.info("filed search lookups of %d stored groups", count)
        return count

    async def _write(
        self,
        writes: LookupWrites,
        unseen: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
        *,
        owned: bool = False,
    ) -> None:
        touched: set[str] = set()
        for name in writes.collections():  # the range directory, shared by every partition
            if await directory.add(self.store, name, writes.updates[name], owned=owned):
                touched.add(marks.DIRECTORY)
        for name in sorted({name for name, _ in writes.edits}):
            edits = {d: e for (n, d), e in writes.edits.items() if n == name}
            await self._edit(name, edits, {d for n, d in unseen if n == name})
        # After the writes they cover, replays included: a reader keeping what it read of
        # the directory or of a place's postings sees them change.
        touched.update(posting_place(d) for n, d in writes.edits if n == POSTINGS)
        await marks.touch(self.store, touched)

    async def _edit(
        self,
        collection: str,
        edits: dict[str, PostingEdit | GroupIdEdit],
        unseen: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """Read, edit and replace lookup documents; where writes are conditional each
        replacement is guarded on the version read, and what lost is redone. Documents
        thought `unseen` are first inserted without a read (one that exists refuses it and
        is edited as the others)."""
        fresh = sorted(d for d in unseen if d in edits)
        refused = await self.store.insert(
            collection, [{"_id": d, **edits[d].apply(None), "v": 1} for d in fresh]
        )
        pending = sorted(set(edits) - set(fresh) | {fresh[i] for i in refused})
        for _ in range(ROUNDS):
            if not pending:
                return
            current = await self.store.read(collection, pending)
            inserts: list[Document] = []
            replaces: list[WriteOp] = []
            for doc_id in pending:
                doc = current.get(doc_id)
                fields = edits[doc_id].apply(doc)
                if doc is None:
                    inserts.append({"_id": doc_id, **fields, "v": 1})
                    continue
                if all(doc.get(k) == v for k, v in fields.items()):
                    continue  # already applied (a replay)
                version = doc.get("v", 0)
                replaces.append(Replace(doc_id, {**fields, "v": int(version) + 1}, {"v": version}))
            refused = await self.store.insert(collection, inserts)
            matched = await self.store.write(collection, replaces)
            if not refused and matched == len(replaces):
                return
            # Lost a race (a duplicate insert, a version moved): edit the fresh documents.
            pending = sorted({inserts[i]["_id"] for i in refused} | set(pending))
        raise TransientError(f"{collection} {pending[0]} kept changing; retrying later")
