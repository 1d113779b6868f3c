"""`chain.json` of the groups in an evidence package, written and verified a few groups
at a time (one read per collection for `CHAIN_BATCH` groups: on FerretDB a read per
group scans the collection each time, measured 5x slower at 200 groups) (the layout is `secmonkey.common.chain_verify`'s chain package), so that
`secmonkey verify --package` recomputes offline what the manifest reports."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from secmonkey.common.chain import (
    FORMAT,
    GENESIS_FIELDS,
    REVIEW_FIELDS,
    REVISION_FIELDS,
    Break,
    heads_root,
    plain,
    review_hash,
    revision_hash,
)
from secmonkey.common.chain_anchor import latest_anchor
from secmonkey.common.chain_verify import Verification, verify_records
from secmonkey.common.storage import Database

ANCHOR_FIELDS = ("_id", "at", "root", "count", "heads")
CHAIN_BATCH = 50  # groups whose whole chains are read at once


def _record(doc: Mapping[str, Any], fields: Sequence[str]) -> str:
    return json.dumps({name: plain(doc.get(name)) for name in fields}, sort_keys=True)


async def _groups(
    db: Database, keys: Sequence[str]
) -> dict[str, tuple[list[Any], list[Any], list[Any]]]:
    """The revisions, genesis and review records of a few groups, by group."""
    batch = list(keys)
    found: dict[str, tuple[list[Any], list[Any], list[Any]]] = {k: ([], [], []) for k in batch}
    revisions = db.revisions.find({"key": {"$in": batch}}).sort([("key", 1), ("seq", 1)])
    async for doc in revisions:
        found[str(doc["key"])][0].append(doc)
    async for doc in db.chain_genesis.find({"_id": {"$in": batch}}):
        found[str(doc["_id"])][1].append(doc)
    reviews = db.review_chain.find({"key": {"$in": batch}}).sort([("key", 1), ("n", 1)])
    async for doc in reviews:
        found[str(doc["key"])][2].append(doc)
    return found


def _anchor_heads(anchor: Mapping[str, Any]) -> dict[str, list[tuple[str, int, str]]]:
    heads: dict[str, list[tuple[str, int, str]]] = {}
    for head in anchor.get("heads") or []:
        if isinstance(head, Mapping):
            chain, key, n, digest = head["chain"], head["key"], head["n"], head["hash"]
        else:
            chain, key, n, digest = head
        heads.setdefault(str(key), []).append((str(chain), int(n), str(digest)))
    return heads


def _anchored(
    key: str,
    heads: list[tuple[str, int, str]],
    revisions: list[Any],
    reviews: list[Any],
    name: str,
) -> list[Break]:
    """The breaks of one group against the anchor's heads (as `verify_records` names them)."""
    hashes = {("revisions", int(r["seq"])): revision_hash(r) for r in revisions}
    hashes |= {("reviews", int(r["n"])): review_hash(r) for r in reviews}
    breaks = []
    for chain, n, digest in heads:
        now = hashes.get((chain, n))
        if now is None:
            breaks.append(Break(chain, key, f"{key}:{n}", f"anchored in {name}, now missing"))
        elif now != digest:
            breaks.append(
                Break(chain, key, f"{key}:{n}", f"differs from the head anchored in {name}")
            )
    return breaks


class _Array:
    """One JSON array of `chain.json`, written a record at a time."""

    def __init__(self, out: IO[str], name: str) -> None:
        self.out = out
        self.first = True
        out.write(f', "{name}": [')

    def add(self, text: str) -> None:
        self.out.write(("" if self.first else ",") + text)
        self.first = False


async def write_chain(db: Database, keys: Sequence[str], path: Path) -> Verification:
    """Write the chain package of `keys` (whole chains, the newest anchor) to `path`; the
    verification of what was written (whole chains: the package has them)."""
    anchor = await latest_anchor(db)
    anchors = [plain({k: anchor.get(k) for k in ANCHOR_FIELDS})] if anchor else []
    heads = _anchor_heads(anchor) if anchor else {}
    breaks: list[Break] = []
    if anchor and heads_root(
        (c, k, n, d) for k, hs in heads.items() for c, n, d in hs
    ) != anchor.get("root"):
        breaks.append(Break("anchor", "", str(anchor["_id"]), "its heads do not hash to its root"))
    counted = [0, 0, 0]
    exported_at = plain(datetime.now(UTC))
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"format": FORMAT, "exported_at": exported_at})[:-1])
        # The three arrays are written in turn; each is read a group at a time.
        for name, fields in (
            ("revisions", REVISION_FIELDS),
            ("genesis", GENESIS_FIELDS),
            ("reviews", REVIEW_FIELDS),
        ):
            array = _Array(out, name)
            for start in range(0, len(keys), CHAIN_BATCH):
                batch = keys[start : start + CHAIN_BATCH]
                if name == "genesis":
                    async for doc in db.chain_genesis.find({"_id": {"$in": list(batch)}}):
                        array.add(_record(doc, fields))
                    continue
                if name == "reviews":
                    found = db.review_chain.find({"key": {"$in": list(batch)}})
                    async for doc in found.sort([("key", 1), ("n", 1)]):
                        array.add(_record(doc, fields))
                    continue
                for key, (revisions, genesis, reviews) in (await _groups(db, batch)).items():
                    for doc in revisions:
                        array.add(_record(doc, fields))
                    checked = verify_records(revisions, genesis, reviews, [])
                    breaks.extend(checked.breaks)
                    if anchor and key in heads:
                        label = str(anchor["_id"])
                        breaks.extend(_anchored(key, heads[key], revisions, reviews, label))
                    counted[0] += checked.groups
                    counted[1] += checked.revisions
                    counted[2] += checked.reviews
            out.write("]")
        out.write(f', "anchors": {json.dumps(anchors, sort_keys=True)}}}')
    return Verification(
        ok=not breaks,
        groups=counted[0],
        revisions=counted[1],
        reviews=counted[2],
        anchors=len(anchors),
        breaks=breaks,
    )
