"""The link of each new revision to the one before it (`prev_hash`, see
`secmonkey.common.chain`), and the genesis record that seals a group's history from
before the chain existed.

Revision 1 links to `ZERO_HASH`. Revision n links to the hash of revision n-1 when that
one is chained, else to the hash of the group's genesis record, written here the first
time (from the stored revisions 1..n-1; the record is derived from content, so two
writers racing write the same one and the unique `_id` keeps one).
"""

from __future__ import annotations

import logging

from secmonkey.auditor.decide import Work
from secmonkey.common.chain import ZERO_HASH, genesis_hash, genesis_record, revision_hash
from secmonkey.common.errors import TransientError
from secmonkey.common.messages import utcnow
from secmonkey.common.storage import Document, Store, insert_unique

log = logging.getLogger(__name__)


async def seal(store: Store, key: str, through_seq: int) -> Document:
    """The genesis record of `key` sealing revisions 1..through_seq (written if missing)."""
    found = await store.read("chain_genesis", [key])
    if key in found:
        return found[key]
    docs = await store.db.revisions.find({"key": key, "seq": {"$lte": through_seq}}).to_list(None)
    docs.sort(key=lambda d: int(d["seq"]))
    if len(docs) != through_seq:
        raise TransientError(f"history of {key} is incomplete ({len(docs)} of {through_seq})")
    record = genesis_record(key, docs)
    if await insert_unique(store.db.chain_genesis, {**record, "sealed_at": utcnow()}):
        log.info(
            "sealed the history of %s (revisions 1..%d) in its genesis record", key, through_seq
        )
        return record
    return (await store.read("chain_genesis", [key]))[key]


async def prev_hashes(store: Store, fresh: list[Work]) -> dict[str, str]:
    """The `prev_hash` of each new revision, by revision id."""
    out: dict[str, str] = {}
    wanted = {f"{w.key}:{w.seq - 1}": w for w in fresh if w.seq > 1}
    for w in fresh:
        if w.seq <= 1:
            out[w.revision_id] = ZERO_HASH
    previous = await store.read("revisions", list(wanted))
    for prev_id, w in wanted.items():
        prev = previous.get(prev_id)
        if prev is None:
            raise TransientError(f"revision {prev_id} is missing; cannot link {w.revision_id}")
        if prev.get("prev_hash") is not None:
            out[w.revision_id] = revision_hash(prev)
        else:
            out[w.revision_id] = genesis_hash(await seal(store, w.key, w.seq - 1))
    return out


# Written once every group present at upgrade is sealed; later starts skip the scan (a
# group last written by an older replica during a rolling upgrade is sealed by its next
# revision, in `prev_hashes`).
UPGRADE_MARKER = "upgrade"


async def seal_all(store: Store, batch: int = 500) -> int:
    """Seal every group whose newest revision is not chained (once, at upgrade); how many."""
    if (await store.read("chain_genesis", [UPGRADE_MARKER])).get(UPGRADE_MARKER):
        return 0
    sealed = 0
    cursor = store.db.items.find({}, {"_id": 1, "seq": 1})
    keys: list[tuple[str, int]] = [(d["_id"], int(d["seq"])) for d in await cursor.to_list(None)]
    for start in range(0, len(keys), batch):
        part = keys[start : start + batch]
        heads = await store.read("revisions", [f"{k}:{s}" for k, s in part], {"prev_hash": 1})
        sealed_before = await store.read("chain_genesis", [k for k, _ in part], {"_id": 1})
        for key, seq in part:
            head = heads.get(f"{key}:{seq}")
            if key in sealed_before:
                continue
            if head is not None and head.get("prev_hash") is None:
                await seal(store, key, seq)
                sealed += 1
    marker = {"_id": UPGRADE_MARKER, "key": UPGRADE_MARKER, "through_seq": 0, "sealed": sealed}
    await insert_unique(
        store.db.chain_genesis, {**marker, "revision_hashes": [], "sealed_at": utcnow()}
    )
    return sealed
