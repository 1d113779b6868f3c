"""The latest topology of each account-region (`topologies`, owned by the auditor) and the
enrichment of a batch's attachments with the exposure it implies.

A batch that carries a topology stores it first (only if newer than the stored one), so
every group of the batch, and of later batches and event snapshots, is judged on it. The
exposure (endpoints, users, prefix lists) becomes part of the group's attachments and so
of its audit key: a change of routes, ACLs or addresses that changes what a group exposes
re-audits that group even when its configuration is unchanged.
"""

from __future__ import annotations

from datetime import datetime

from secmonkey.auditor.exposure.index import TopologyIndex
from secmonkey.auditor.exposure.reach import group_endpoints
from secmonkey.common.canonical import Attachments, CanonicalGroup
from secmonkey.common.dates import aware, to_millis
from secmonkey.common.storage import Database, Document, Store
from secmonkey.common.topology import Topology

COLLECTION = "topologies"


def topology_id(account_id: str, region: str) -> str:
    return f"aws:{account_id}:{region}"


def enrich(attachments: Attachments, group: CanonicalGroup, index: TopologyIndex) -> Attachments:
    """`attachments` with the group's exposed endpoints, users and prefix lists."""
    referenced = {r.source for r in group.rules if r.source_kind == "prefix_list"}
    return attachments.model_copy(
        update={
            "endpoints": group_endpoints(group, index),
            "users": list(index.topology.group_users.get(group.group_id, [])),
            "prefix_lists": {
                pl: index.topology.prefix_lists[pl]
                for pl in sorted(referenced)
                if pl in index.topology.prefix_lists
            },
        }
    )


class Topologies:
    """Stores topologies and keeps each account-region's latest one indexed in memory.

    A sole holder of its account-regions (partitions, `own_places`) is their only writer:
    it knows the latest one it stored without a read, and an unchanged topology (the same
    digest, newer) is not written again; the stored one keeps the instant it was first seen
    with that content. Taking a partition forgets this (`forget_known`)."""

    def __init__(self, db: Database, *, own_places: bool = False) -> None:
        self.db = db
        self.store = Store(db)
        self.own_places = own_places
        self._cache: dict[str, TopologyIndex] = {}
        self._newest: dict[str, datetime] = {}  # own places: the latest instant seen
        self._digests: dict[str, str] = {}  # of the cached topologies

    def forget_known(self) -> None:
        self._newest.clear()

    async def save(self, topology: Topology) -> bool:
        """Store `topology` unless a newer one is stored; True when it was stored."""
        return bool(await self.save_all([topology]))

    async def save_all(self, topologies: list[Topology]) -> list[str]:
        """Store each topology (of distinct account-regions) unless a newer one is stored:
        one read and one write for all; the ids of those stored."""
        candidates: list[tuple[str, Topology, datetime, str]] = []
        for topology in topologies:
            doc_id = topology_id(topology.account_id, topology.region)
            at = to_millis(topology.observed_at)
            newest = self._newest.get(doc_id) if self.own_places else None
            digest = topology.digest()
            if newest is not None:
                if at <= newest:
                    continue
                if self._digests.get(doc_id) == digest:
                    self._newest[doc_id] = at  # the same content, seen again
                    continue
            candidates.append((doc_id, topology, at, digest))
        unread = [c[0] for c in candidates if not (self.own_places and c[0] in self._newest)]
        stored = await self.store.read(COLLECTION, unread, {"observed_at": 1})
        docs: dict[str, Document] = {}
        for doc_id, topology, at, digest in candidates:
            before = stored.get(doc_id)
            if before is not None and aware(before["observed_at"]) >= at:
                continue
            docs[doc_id] = {
                "account_id": topology.account_id,
                "region": topology.region,
                "observed_at": at,
                "digest": digest,
                "topology": topology.model_dump(mode="json"),
            }
        await self.store.put(COLLECTION, docs)
        for doc_id, topology, at, digest in candidates:
            if doc_id in docs:
                self._cache[doc_id] = TopologyIndex.of(topology)
                self._digests[doc_id] = digest
                if self.own_places:
                    self._newest[doc_id] = at
        return list(docs)

    async def latest(self, account_id: str, region: str) -> TopologyIndex | None:
        """The latest stored topology (re-read only when another writer stored a newer one)."""
        return (await self.latest_all([(account_id, region)]))[(account_id, region)]

    async def latest_all(
        self, places: list[tuple[str, str]]
    ) -> dict[tuple[str, str], TopologyIndex | None]:
        """The latest stored topology of each account-region: what a sole holder stored
        itself is known; the others' instants are read in one read, and those newer than
        what is cached in a second."""
        found: dict[tuple[str, str], TopologyIndex | None] = {}
        ids = {topology_id(*place): place for place in places}
        unknown: list[str] = []
        for doc_id, place in ids.items():
            if self.own_places and doc_id in self._newest and doc_id in self._cache:
                found[place] = self._cache[doc_id]
            else:
                unknown.append(doc_id)
        stored = await self.store.read(COLLECTION, unknown, {"observed_at": 1})
        stale: list[str] = []
        for doc_id in unknown:
            place, doc, cached = ids[doc_id], stored.get(doc_id), self._cache.get(doc_id)
            found[place] = None
            if doc is None:
                continue
            at = aware(doc["observed_at"])
            if cached is not None and to_millis(cached.topology.observed_at) >= at:
                if self.own_places:
                    self._newest[doc_id] = max(at, self._newest.get(doc_id, at))
                found[place] = cached
            else:
                stale.append(doc_id)
        for doc_id, full in (await self.store.read(COLLECTION, stale)).items():
            index = TopologyIndex.of(Topology.model_validate(full["topology"]))
            self._cache[doc_id] = index
            self._digests[doc_id] = index.topology.digest()
            if self.own_places:
                self._newest[doc_id] = aware(full["observed_at"])
            found[ids[doc_id]] = index
        return found
