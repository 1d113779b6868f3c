"""Filing each group's exposed endpoints for the API (`exposures`, one document per
endpoint, rule and port range, so `GET /api/v1/exposure?port=22` is one indexed find).

`exposure_state` keeps each group's digest, instant and document ids: a group is refiled
only when what it exposes changed, and never from an observation older than the one
filed (`EndpointFiler` says how a crash mid-refile is repaired). A sole holder of its
account-regions (partitions) remembers what it filed, so an unchanged group costs no read.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from secmonkey.common.canonical import GroupSnapshot
from secmonkey.common.dates import aware, to_millis
from secmonkey.common.storage import Database, Delete, Replace, Store, WriteOp
from secmonkey.common.topology import endpoints_digest

EXPOSURES = "exposures"
STATE = "exposure_state"


def endpoint_docs(
    key: str, account_id: str, region: str, snapshot: GroupSnapshot, at: datetime
) -> list[dict[str, Any]]:
    docs = []
    for n, e in enumerate(snapshot.attachments.endpoints or []):
        ranges = e.port_ranges or [(0, 65535)]
        for m, (low, high) in enumerate(ranges):
            version = 6 if ":" in e.address and _is_ip(e.address) else 4
            docs.append(
                {
                    "_id": f"{key}|{n}|{m}",
                    "key": key,
                    "account_id": account_id,
                    "region": region,
                    "group_id": snapshot.config.group_id,
                    "group_name": snapshot.config.name,
                    "vpc_id": snapshot.config.vpc_id,
                    "resource_type": e.resource_type,
                    "resource_id": e.resource_id,
                    "interface_id": e.interface_id,
                    "address": e.address,
                    "ip_version": version,
                    "protocol": e.protocol,
                    "from_port": low,
                    "to_port": high,
                    "ports": e.ports_text(),
                    "rule_text": e.rule_text,
                    "route": e.route,
                    "nacl": e.nacl,
                    "text": e.text(),
                    "observed_at": at,
                }
            )
    return docs


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Filing:
    """One batch's groups to file (by item key), of one account-region, seen at `at`;
    `unfiled`: the keys of groups with nothing filed yet."""

    snapshots: dict[str, GroupSnapshot]
    account_id: str
    region: str
    at: datetime
    unfiled: set[str] | frozenset[str] = frozenset()


class EndpointFiler:
    """Files endpoints in a few bulk commands per batch, addressing every document by `_id`
    (FerretDB parses the whole collection for any other filter).

    A group's state lists the ids of the documents it may have filed. Refiling first
    widens that list to the old and the new ids with no digest (a pending refile), then
    deletes them all, inserts the new documents and writes the state with the new ids and
    digest: a crash at any point leaves a state that names every document that may exist
    and a digest that differs, so the next batch refiles the group.
    """

    def __init__(self, db: Database, *, own_places: bool = False) -> None:
        self.db = db
        self.store = Store(db)
        # With one holder per account-region (partition leases) this process is the only
        # writer of its groups' states: the digest and instant it filed last are known
        # without a read, until it takes a partition (`forget_known`).
        self.own_places = own_places
        self._known: dict[str, tuple[str, datetime]] = {}

    def forget_known(self) -> None:
        self._known.clear()

    def _unchanged(self, key: str, digest: str, at: datetime) -> bool:
        known = self._known.get(key)
        return known is not None and (known[0] == digest or known[1] > at)

    async def file(
        self,
        snapshots: dict[str, GroupSnapshot],
        account_id: str,
        region: str,
        at: datetime,
        unfiled: set[str] | frozenset[str] = frozenset(),
    ) -> int:
        """Refile the groups whose endpoints changed; how many were refiled. A sole holder
        reads no state for the keys in `unfiled` (groups with nothing filed yet)."""
        return await self.file_all([Filing(snapshots, account_id, region, at, unfiled)])

    async def file_all(self, filings: list[Filing]) -> int:
        """`file` for the batches of several account-regions, in one set of commands."""
        unknown: list[tuple[str, GroupSnapshot, Filing, datetime, str]] = []
        for filing in filings:
            at = to_millis(filing.at)
            for key, snapshot in filing.snapshots.items():
                digest = endpoints_digest(snapshot.attachments.endpoints or [])
                if not self._unchanged(key, digest, at):
                    unknown.append((key, snapshot, filing, at, digest))
        state = await self.store.read(
            STATE, [u[0] for u in unknown if not (self.own_places and u[0] in u[2].unfiled)]
        )
        pending: list[Replace] = []
        gone: list[WriteOp] = []
        docs: list[dict[str, Any]] = []
        done: list[Replace] = []
        filed: list[tuple[str, str, datetime]] = []
        for key, snapshot, filing, at, digest in unknown:
            stored = state.get(key)
            if stored is not None and (
                stored.get("digest") == digest or aware(stored["observed_at"]) > at
            ):
                self._remember(key, stored.get("digest"), aware(stored["observed_at"]))
                continue
            new = endpoint_docs(key, filing.account_id, filing.region, snapshot, at)
            new_ids = [d["_id"] for d in new]
            if stored is not None and "ids" not in stored:
                # Filed before the states listed their ids: once, by the group's key.
                await self.db[EXPOSURES].delete_many({"key": key})
            old_ids = list((stored or {}).get("ids") or [])
            widened = sorted(set(old_ids) | set(new_ids))
            if widened:
                pending.append(_state(key, None, at, filing.account_id, widened))
                gone.extend(Delete(i) for i in widened)
            docs.extend(new)
            done.append(_state(key, digest, at, filing.account_id, new_ids))
            filed.append((key, digest, at))
        await self.store.write(STATE, pending)
        await self.store.write(EXPOSURES, gone)
        await self.store.insert(EXPOSURES, docs)
        # A group without a state (new, most of them at first sight) gets its state in
        # one insert: an upsert per group is a transaction per group on FerretDB. One
        # that exists after all (a pending state above) is replaced.
        waiting = {op.id for op in pending}
        fresh = [op for op in done if op.id not in state and op.id not in waiting]
        refused = await self.store.insert(STATE, [{"_id": op.id, **op.doc} for op in fresh])
        inserted = {op.id for op in fresh} - {fresh[i].id for i in refused}
        await self.store.write(STATE, [op for op in done if op.id not in inserted])
        for key, digest, at in filed:
            self._remember(key, digest, at)
        return len(done)

    def _remember(self, key: str, digest: str | None, at: datetime) -> None:
        if self.own_places and digest is not None:
            self._known[key] = (digest, at)

    async def forget(self, keys: list[str]) -> None:
        for key in keys:
            self._known.pop(key, None)
        state = await self.store.read(STATE, keys)
        ids = [i for doc in state.values() for i in doc.get("ids") or []]
        await self.store.write(EXPOSURES, [Delete(i) for i in ids])
        await self.store.write(STATE, [Delete(k) for k in state])


def _state(key: str, digest: str | None, at: datetime, account_id: str, ids: list[str]) -> Replace:
    doc = {"digest": digest, "observed_at": at, "account_id": account_id, "ids": ids}
    return Replace(key, doc, upsert=True)
