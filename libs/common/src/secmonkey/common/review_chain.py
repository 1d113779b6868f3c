"""Writing the review chain (`review_chain`, see `secmonkey.common.chain`): each decision
of a group's change reviews appended once, at the next free position.

A decision is recorded in two writes: the review's status (`change_reviews`), then its
chain record. A crash between the two leaves a decided review out of its chain, and a
retry cannot redo it (the review is no longer pending). So the writer repairs: before it
appends a decision it appends every earlier decision of the same group that is missing
(`append_decision`), and the auditor runs `repair_review_chains` over every group at
start. Both are idempotent: a record's `_id` is its position (`<key>:<n>`) and its
`review_id` is unique, so a repair racing a decision never appends one decision twice
nor two at one position.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from secmonkey.common.chain import ZERO_HASH, review_hash
from secmonkey.common.errors import TransientError
from secmonkey.common.storage import Database, insert_unique

log = logging.getLogger(__name__)

CHAIN_ROUNDS = 20
DECIDED = ["approved", "rejected"]
PAGE = 500


def chain_record(review: Mapping[str, Any], n: int, prev_hash: str) -> dict[str, Any]:
    """The immutable review-chain record of a decided review (its stored document) at n."""
    return {
        "_id": f"{review['key']}:{n}",
        "key": review["key"],
        "n": n,
        "review_id": review["_id"],
        "revision_id": review["_id"],
        "status": review["status"],
        "ticket": review.get("ticket"),
        "reviewer": review.get("reviewer"),
        "comment": review.get("comment"),
        "changed_by": review.get("changed_by"),
        "auto": bool(review.get("auto")),
        "decided_at": review.get("decided_at"),
        "prev_hash": prev_hash,
    }


async def _append(db: Database, review: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The chain record of `review`, and whether this call appended it."""
    for _ in range(CHAIN_ROUNDS):
        existing = await db.review_chain.find_one({"review_id": review["_id"]})
        if existing is not None:
            return existing, False
        head = await db.review_chain.find({"key": review["key"]}).sort("n", -1).limit(1).to_list(1)
        n, prev = (int(head[0]["n"]) + 1, review_hash(head[0])) if head else (1, ZERO_HASH)
        record = chain_record(review, n, prev)
        if await insert_unique(db.review_chain, record):
            return record, True
    raise TransientError(f"the review chain of {review['key']} kept moving")


async def missing_decisions(db: Database, key: str) -> list[dict[str, Any]]:
    """The decided reviews of group `key` that are not in its chain, oldest decision first."""
    decided = await db.change_reviews.find({"key": key, "status": {"$in": DECIDED}}).to_list(None)
    if not decided:
        return []
    chained = {
        str(r["review_id"]) async for r in db.review_chain.find({"key": key}, {"review_id": 1})
    }
    missing = [d for d in decided if str(d["_id"]) not in chained]
    missing.sort(key=lambda d: (d.get("decided_at") or d["observed_at"], int(d["seq"])))
    return missing


async def _repair_group(db: Database, key: str, skip: str | None = None) -> int:
    appended = 0
    for doc in await missing_decisions(db, key):
        if str(doc["_id"]) == skip:
            continue
        _, done = await _append(db, doc)
        if done:
            appended += 1
            log.warning("review chain of %s: appended the decision of %s", key, doc["_id"])
    return appended


async def append_decision(db: Database, review: Mapping[str, Any]) -> dict[str, Any]:
    """Append the decision of `review` (its stored, decided document) to its group's chain,
    once, after any earlier decision of the group a crash left out."""
    await _repair_group(db, str(review["key"]), skip=str(review["_id"]))
    record, _ = await _append(db, review)
    return record


async def repair_review_chains(db: Database, page: int = PAGE) -> int:
    """Append every decision missing from its chain, group by group; how many were appended.
    Reads the decided reviews a page at a time."""
    appended = 0
    after: str | None = None
    while True:
        query: dict[str, Any] = {"status": {"$in": DECIDED}}
        if after is not None:
            query["_id"] = {"$gt": after}
        found = db.change_reviews.find(query, {"key": 1}).sort("_id", 1).limit(page)
        docs = await found.to_list(None)
        if not docs:
            return appended
        ids = [str(d["_id"]) for d in docs]
        chained = {
            str(r["review_id"])
            async for r in db.review_chain.find({"review_id": {"$in": ids}}, {"review_id": 1})
        }
        for key in sorted({str(d["key"]) for d in docs if str(d["_id"]) not in chained}):
            appended += await _repair_group(db, key)
        if len(docs) < page:
            return appended
        after = ids[-1]
