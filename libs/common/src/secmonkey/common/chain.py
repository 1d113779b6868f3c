"""Tamper-evident history: the canonical form that is hashed, and the pure chain checks.

Two chains per group, each link carrying the SHA-256 of the one before it:
- revisions (`revisions.prev_hash`): revision n holds the hash of revision n-1 of its
  group; revision 1 holds `ZERO_HASH`, or, when the group had history from before the
  chain existed, the hash of its genesis record (`chain_genesis`), which seals that
  history (the hashes of every earlier revision) at upgrade;
- review decisions (`review_chain`): record n of a group holds the hash of record n-1.

The canonical form (`canonical_bytes`), written down here and nowhere else:
- a JSON object of exactly the fields listed for the record kind (`REVISION_FIELDS`,
  `REVIEW_FIELDS`, `GENESIS_FIELDS`); a missing field is `null`, any other is left out;
- keys sorted at every level, no whitespace (`,` and `:`), UTF-8, non-ASCII kept;
- every datetime in UTC at millisecond precision: `2026-12-06T16:12:29.123Z` (a naive
  datetime is taken as UTC, which is how the database returns them);
- tuples as lists; everything else as JSON has it.

The hash of a record is `sha256(canonical_bytes(record, fields)).hexdigest()`.

Without an external anchor (the S3 object under Object Lock written by `anchors`),
someone with write access to the database could rewrite a whole chain, recomputing every
hash after the edit: the chain only proves that history was not changed since the
newest head that was written somewhere the database writer cannot reach.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ZERO_HASH = "0" * 64
FORMAT = "secmonkey-chain-v1"

REVISION_FIELDS = (
    "_id",
    "key",
    "seq",
    "account_id",
    "region",
    "group_id",
    "change_type",
    "fingerprint",
    "config",
    "attachments",
    "diff",
    "changes",
    "observed_at",
    "sweep_id",
    "callers",
    "prev_hash",
)
REVIEW_FIELDS = (
    "_id",
    "key",
    "n",
    "review_id",
    "revision_id",
    "status",
    "ticket",
    "reviewer",
    "comment",
    "changed_by",
    "auto",
    "decided_at",
    "prev_hash",
)
GENESIS_FIELDS = ("_id", "key", "through_seq", "revision_hashes")


def plain(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def canonical_bytes(record: Mapping[str, Any], fields: Sequence[str]) -> bytes:
    """The canonical form of `record` restricted to `fields` (see the module docstring)."""
    body = {name: plain(record.get(name)) for name in fields}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: Mapping[str, Any], fields: Sequence[str]) -> str:
    return hashlib.sha256(canonical_bytes(record, fields)).hexdigest()


def revision_hash(revision: Mapping[str, Any]) -> str:
    return record_hash(revision, REVISION_FIELDS)


def review_hash(record: Mapping[str, Any]) -> str:
    return record_hash(record, REVIEW_FIELDS)


def genesis_record(key: str, revisions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The record that seals a group's history from before the chain (revisions 1..n)."""
    return {
        "_id": key,
        "key": key,
        "through_seq": len(revisions),
        "revision_hashes": [revision_hash(r) for r in revisions],
    }


def genesis_hash(genesis: Mapping[str, Any]) -> str:
    return record_hash(genesis, GENESIS_FIELDS)


def heads_root(heads: Iterable[tuple[str, str, int, str]]) -> str:
    """The anchor's hash over every chain head: (chain, key, position, head hash) lines,
    sorted, joined with newlines."""
    lines = sorted(f"{chain} {key} {n} {digest}" for chain, key, n, digest in heads)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass(frozen=True)
class Break:
    """Where a chain does not hold: the chain, the group, the record and why."""

    chain: str  # "revisions" | "reviews" | "anchor"
    key: str
    record: str
    reason: str

    def __str__(self) -> str:
        return f"{self.chain} {self.record}: {self.reason}"


def check_revisions(
    key: str, revisions: Sequence[Mapping[str, Any]], genesis: Mapping[str, Any] | None
) -> tuple[list[Break], str | None, int]:
    """Check one group's revisions (sorted by seq): the breaks, the head hash and seq."""
    breaks: list[Break] = []
    sealed = 0
    expected = ZERO_HASH
    if genesis is not None:
        sealed = int(genesis["through_seq"])
        stored = list(genesis.get("revision_hashes") or [])
        for i, rev in enumerate(revisions[:sealed]):
            if i >= len(stored) or revision_hash(rev) != stored[i]:
                breaks.append(Break("revisions", key, str(rev["_id"]), "differs from genesis"))
        expected = genesis_hash(genesis)
    head: str | None = None
    seq = 0
    for position, rev in enumerate(revisions, start=1):
        rid = str(rev.get("_id"))
        if int(rev.get("seq", 0)) != position:
            breaks.append(Break("revisions", key, rid, f"seq {rev.get('seq')} at {position}"))
        if position > sealed:
            if rev.get("prev_hash") is None:
                breaks.append(Break("revisions", key, rid, "not chained (no prev_hash)"))
            elif rev["prev_hash"] != expected:
                breaks.append(
                    Break("revisions", key, rid, "prev_hash does not match the revision before")
                )
        head = revision_hash(rev)
        if position > sealed:
            expected = head  # a sealed revision's successor links to the genesis record
        seq = position
    return breaks, head, seq


def check_reviews(
    key: str, records: Sequence[Mapping[str, Any]]
) -> tuple[list[Break], str | None, int]:
    """Check one group's review records (sorted by n): the breaks, the head hash and n."""
    breaks: list[Break] = []
    expected = ZERO_HASH
    head: str | None = None
    n = 0
    for position, rec in enumerate(records, start=1):
        rid = str(rec.get("_id"))
        if int(rec.get("n", 0)) != position:
            breaks.append(Break("reviews", key, rid, f"position {rec.get('n')} at {position}"))
        if rec.get("prev_hash") != expected:
            breaks.append(Break("reviews", key, rid, "prev_hash does not match the record before"))
        head = review_hash(rec)
        expected = head
        n = position
    return breaks, head, n
