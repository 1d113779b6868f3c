"""Change reviews: the queue, one review with its diff, decisions (one or many)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from secmonkey.api.auth import Principal
from secmonkey.api.problems import Problem
from secmonkey.api.queries.events import record_event
from secmonkey.api.schemas.change_control import BulkResult, ReviewDetail, ReviewIn, ReviewView
from secmonkey.common import change_reviews
from secmonkey.common.change_reviews import ChangeReview
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.outbox import Outbox
from secmonkey.common.storage import Database


async def find_reviews(
    db: Database,
    *,
    status: str | None,
    scope: str | None,
    account_id: str | None,
    overdue: bool | None,
    limit: int,
) -> list[ReviewView]:
    now = datetime.now(UTC)
    query: dict[str, Any] = {}
    if status is not None:
        query["status"] = status
    if scope is not None:
        query["scopes"] = scope
    if account_id is not None:
        query["account_id"] = account_id
    if overdue:
        query["status"] = "pending"
        query["deadline"] = {"$lte": now}
    docs = await db.change_reviews.find(query).sort("observed_at", -1).limit(limit).to_list(None)
    return [ReviewView.of(ChangeReview.model_validate(d), now) for d in docs]


async def get_review(db: Database, review_id: str) -> ReviewDetail:
    doc = await db.change_reviews.find_one({"_id": review_id})
    if doc is None:
        raise NotFound(f"no change review {review_id}")
    review = ChangeReview.model_validate(doc)
    ids = [review.id, f"{review.key}:{review.seq - 1}"]
    found = {d["_id"]: d async for d in db.revisions.find({"_id": {"$in": ids}})}
    after = found.get(review.id)
    before = found.get(ids[1])
    view = ReviewView.of(review, datetime.now(UTC))
    return ReviewDetail(
        **view.model_dump(),
        before=_config(before),
        after=None if review.change_type == "deleted" else _config(after),
        diff=(after or {}).get("diff"),
    )


def _config(revision: dict[str, Any] | None) -> dict[str, Any] | None:
    if revision is None:
        return None
    config = dict(revision.get("config") or {})
    raw = config.get("tags")
    if isinstance(raw, list):
        config["tags"] = {t["key"]: t["value"] for t in raw}
    return config


async def review(
    db: Database, outbox: Outbox, who: Principal, review_id: str, body: ReviewIn
) -> ReviewView:
    """Record a decision; its events are stored, appended to the feed and published."""
    status: Literal["approved", "rejected"] = (
        "approved" if body.decision == "approve" else "rejected"
    )
    try:
        decided, events = await change_reviews.decide(
            db,
            review_id,
            status=status,
            reviewer=who.name,
            ticket=body.ticket,
            comment=body.comment,
        )
    except change_reviews.SelfReview as exc:
        raise Problem(403, str(exc), kind="forbidden") from None
    except change_reviews.AlreadyDecided as exc:
        raise Problem(409, str(exc), kind="conflict") from None
    for event in events:
        await record_event(db, outbox, event)
    return ReviewView.of(decided, datetime.now(UTC))


async def review_many(
    db: Database, outbox: Outbox, who: Principal, ids: list[str], body: ReviewIn
) -> list[BulkResult]:
    """The same decision (one ticket) on many reviews; each answered on its own."""
    results: list[BulkResult] = []
    for review_id in dict.fromkeys(ids):
        try:
            done = await review(db, outbox, who, review_id, body)
        except (Problem, NotFound, InvalidInput) as exc:
            results.append(
                BulkResult(id=review_id, ok=False, error=str(getattr(exc, "detail", exc)))
            )
            continue
        results.append(BulkResult(id=review_id, ok=True, status=done.status))
    return results
