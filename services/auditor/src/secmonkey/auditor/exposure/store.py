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
from secmonkey.common.storage import Database
from secmonkey.common.topology import Topology


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
        self.own_places = own_places
        self._cache: dict[str, TopologyIndex] = {}
        self._newest: dict[str, datetime] = {}  # own places: the latest instant seen
        self._digests: dict[str, str] = {}  # of the cached topologies

    def forget_known(self) -> None:
        self._newest.clear()

    async def save(self, topology: Topology) -> bool:
        """Store `topology` unless a newer one is stored; True when it was stored."""
        doc_id = topology_id(topology.account_id, topology.region)
        at = to_millis(topology.observed_at)
        newest = self._newest.get(doc_id) if self.own_places else None
        digest = topology.digest()
        if newest is not None:
            if at <= newest:
                return False
            if self._digests.get(doc_id) == digest:
                self._newest[doc_id] = at  # the same content, seen again
                return False
        else:
            stored = await self.db.topologies.find_one({"_id": doc_id}, {"observed_at": 1})
            if stored is not None and aware(stored["observed_at"]) >= at:
                return False
        doc = {
            "account_id": topology.account_id,
            "region": topology.region,
            "observed_at": at,
            "digest": digest,
            "topology": topology.model_dump(mode="json"),
        }
        await self.db.topologies.replace_one({"_id": doc_id}, doc, upsert=True)
        self._cache[doc_id] = TopologyIndex.of(topology)
        self._digests[doc_id] = digest
        if self.own_places:
            self._newest[doc_id] = at
        return True

    async def latest(self, account_id: str, region: str) -> TopologyIndex | None:
        """The latest stored topology (re-read only when another writer stored a newer one)."""
        doc_id = topology_id(account_id, region)
        if self.own_places and doc_id in self._newest and doc_id in self._cache:
            return self._cache[doc_id]
        stored = await self.db.topologies.find_one({"_id": doc_id}, {"observed_at": 1})
        if stored is None:
            return None
        cached = self._cache.get(doc_id)
        at = aware(stored["observed_at"])
        if cached is not None and to_millis(cached.topology.observed_at) >= at:
            if self.own_places:
                self._newest[doc_id] = max(at, self._newest.get(doc_id, at))
            return cached
        full = await self.db.topologies.find_one({"_id": doc_id})
        if full is None:
            return None
        index = TopologyIndex.of(Topology.model_validate(full["topology"]))
        self._cache[doc_id] = index
        self._digests[doc_id] = index.topology.digest()
        if self.own_places:
            self._newest[doc_id] = at
        return index
