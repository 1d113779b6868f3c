"""`verify`: recompute the chains and name every break, on the live database or on an
exported chain package.

The chain package (`chain.json`, inside an evidence zip or alone) is one JSON object:

    {
      "format": "secmonkey-chain-v1",
      "exported_at": "2026-12-06T16:00:00.000Z",
      "revisions": [<revision>, ...],      # every revision of the exported groups
      "genesis": [<genesis record>, ...],  # their genesis records, if any
      "reviews": [<review record>, ...],   # their review-chain records
      "anchors": [<anchor>, ...]           # anchors (root, count, heads) of the period
    }

Each record holds the fields listed for its kind in `secmonkey.common.chain`
(`REVISION_FIELDS`, `REVIEW_FIELDS`, `GENESIS_FIELDS`), datetimes as the canonical
`YYYY-MM-DDTHH:MM:SS.mmmZ` strings, so hashing the exported record gives the hash the
database record has. A package is self-contained: whole chains are exported (from each
group's first revision), and the period limits which breaks are reported.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from secmonkey.common.chain import (
    FORMAT,
    GENESIS_FIELDS,
    REVIEW_FIELDS,
    REVISION_FIELDS,
    Break,
    check_reviews,
    check_revisions,
    heads_root,
    plain,
    review_hash,
    revision_hash,
)
from secmonkey.common.storage import Database


@dataclass
class Verification:
    ok: bool
    groups: int
    revisions: int
    reviews: int
    anchors: int
    breaks: list[Break] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "groups": self.groups,
            "revisions": self.revisions,
            "reviews": self.reviews,
            "anchors": self.anchors,
            "breaks": [
                {"chain": b.chain, "key": b.key, "record": b.record, "reason": b.reason}
                for b in self.breaks
            ],
        }


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    when: datetime = value
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _within(at: Any, start: datetime | None, end: datetime | None) -> bool:
    when = _time(at)
    if when is None:
        return True
    return (start is None or when >= start) and (end is None or when <= end)


def _head(head: Any) -> tuple[str, str, int, str]:
    """An anchored head: {chain, key, n, hash} (or the same four as a list)."""
    if isinstance(head, Mapping):
        return str(head["chain"]), str(head["key"]), int(head["n"]), str(head["hash"])
    chain, key, n, digest = head
    return str(chain), str(key), int(n), str(digest)


def verify_records(
    revisions: Iterable[Mapping[str, Any]],
    genesis: Iterable[Mapping[str, Any]],
    reviews: Iterable[Mapping[str, Any]],
    anchors: Sequence[Mapping[str, Any]],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Verification:
    """Check every chain in these records; breaks of records outside [start, end] are
    not reported (anchors are checked whatever the period)."""
    by_key: dict[str, list[Mapping[str, Any]]] = {}
    for rev in revisions:
        by_key.setdefault(str(rev["key"]), []).append(rev)
    seals = {str(g["key"]): g for g in genesis}
    review_keys: dict[str, list[Mapping[str, Any]]] = {}
    for rec in reviews:
        review_keys.setdefault(str(rec["key"]), []).append(rec)
    breaks: list[Break] = []
    times: dict[str, Any] = {}
    hashes: dict[tuple[str, str, int], str] = {}
    counted = [0, 0]
    for key, revs in by_key.items():
        revs.sort(key=lambda r: int(r["seq"]))
        counted[0] += len(revs)
        found, _, _ = check_revisions(key, revs, seals.get(key))
        for rev in revs:
            times[str(rev["_id"])] = rev.get("observed_at")
            hashes[("revisions", key, int(rev["seq"]))] = revision_hash(rev)
        breaks.extend(found)
    for key, recs in review_keys.items():
        recs.sort(key=lambda r: int(r["n"]))
        counted[1] += len(recs)
        found, _, _ = check_reviews(key, recs)
        for rec in recs:
            times[str(rec["_id"])] = rec.get("decided_at")
            hashes[("reviews", key, int(rec["n"]))] = review_hash(rec)
        breaks.extend(found)
    breaks = [b for b in breaks if _within(times.get(b.record), start, end)]
    for anchor in anchors:
        name = str(anchor.get("_id"))
        heads = [_head(h) for h in anchor.get("heads") or []]
        if heads_root(heads) != anchor.get("root"):
            breaks.append(Break("anchor", "", name, "its heads do not hash to its root"))
        for chain, key, n, digest in heads:
            now = hashes.get((chain, key, n))
            if key not in by_key and key not in review_keys:
                continue  # a group this package or period does not hold
            if now is None:
                breaks.append(Break(chain, key, f"{key}:{n}", f"anchored in {name}, now missing"))
            elif now != digest:
                breaks.append(
                    Break(chain, key, f"{key}:{n}", f"differs from the head anchored in {name}")
                )
    return Verification(
        ok=not breaks,
        groups=len(set(by_key) | set(review_keys)),
        revisions=counted[0],
        reviews=counted[1],
        anchors=len(anchors),
        breaks=breaks,
    )


async def verify_database(
    db: Database, start: datetime | None = None, end: datetime | None = None
) -> Verification:
    """Verify the live database's chains (every group; breaks reported in the period)."""
    revisions = await db.revisions.find({}).to_list(None)
    genesis = await db.chain_genesis.find({}).to_list(None)
    reviews = await db.review_chain.find({}).to_list(None)
    anchors = await db.chain_anchors.find({}).sort("at", -1).limit(1).to_list(1)
    return verify_records(revisions, genesis, reviews, anchors, start=start, end=end)


def _export(records: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> list[Any]:
    return [{name: plain(r.get(name)) for name in fields} for r in records]


async def export_package(db: Database, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """The chain package of the groups `keys` (all when None): whole chains, as JSON."""
    query: dict[str, Any] = {} if keys is None else {"key": {"$in": list(keys)}}
    gquery: dict[str, Any] = {} if keys is None else {"_id": {"$in": list(keys)}}
    anchors = await db.chain_anchors.find({}).sort("at", -1).limit(1).to_list(1)
    return {
        "format": FORMAT,
        "exported_at": plain(datetime.now(UTC)),
        "revisions": _export(await db.revisions.find(query).to_list(None), REVISION_FIELDS),
        "genesis": _export(await db.chain_genesis.find(gquery).to_list(None), GENESIS_FIELDS),
        "reviews": _export(await db.review_chain.find(query).to_list(None), REVIEW_FIELDS),
        "anchors": [
            plain({k: a.get(k) for k in ("_id", "at", "root", "count", "heads")}) for a in anchors
        ],
    }


def read_package(path: Path) -> dict[str, Any]:
    """A chain package from `chain.json`, or from the `chain.json` in an evidence zip."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("chain.json")), None)
            if name is None:
                raise ValueError(f"{path} holds no chain.json")
            data = json.loads(archive.read(name))
    else:
        data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} package")
    return data


def verify_package(
    package: Mapping[str, Any], start: datetime | None = None, end: datetime | None = None
) -> Verification:
    return verify_records(
        package.get("revisions") or [],
        package.get("genesis") or [],
        package.get("reviews") or [],
        package.get("anchors") or [],
        start=start,
        end=end,
    )


def verify_file(
    path: Path, start: datetime | None = None, end: datetime | None = None
) -> Verification:
    """Verify a chain package file, or an evidence zip: its chains and, when it has one,
    every file against its manifest (`secmonkey.common.evidence_manifest`)."""
    from secmonkey.common.evidence_manifest import manifest_breaks

    verification = verify_package(read_package(path), start, end)
    if zipfile.is_zipfile(path):
        verification.breaks.extend(manifest_breaks(path))
        verification.ok = not verification.breaks
    return verification
