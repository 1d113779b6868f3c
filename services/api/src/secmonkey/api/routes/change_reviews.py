"""`/change-reviews`: every change of an in-scope group, pending until a person or a
ticketing system (a `reviewer` key) approves it with a ticket or rejects it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from secmonkey.api.deps import Db, OutboxDep, Reviewer, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries import change_reviews
from secmonkey.api.routes._params import AccountFilter
from secmonkey.api.schemas.change_control import (
    REVIEW_ID_PATTERN,
    BulkResult,
    BulkReviewIn,
    ReviewDetail,
    ReviewIn,
    ReviewPage,
    ReviewView,
)
from secmonkey.common.compliance_scopes import SCOPE_NAME_PATTERN

router = APIRouter(
    prefix="/change-reviews", tags=["change control"], responses=problem_responses(401, 403, 422)
)
ReviewId = Annotated[str, Path(pattern=REVIEW_ID_PATTERN, description="<group key>:<seq>")]


@router.get("", response_model=ReviewPage, summary="The review queue, newest change first")
async def list_reviews(
    db: Db,
    _: Viewer,
    status: Literal["pending", "approved", "rejected"] | None = "pending",
    scope: Annotated[str | None, Query(pattern=SCOPE_NAME_PATTERN)] = None,
    account_id: AccountFilter = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ReviewPage:
    items = await change_reviews.find_reviews(
        db, status=status, scope=scope, account_id=account_id, overdue=overdue, limit=limit
    )
    return ReviewPage(items=items)


@router.post(
    "/review",
    response_model=list[BulkResult],
    summary="Approve (one ticket) or reject many reviews (reviewer, auditor or admin)",
)
async def review_many(
    db: Db, outbox: OutboxDep, who: Reviewer, body: BulkReviewIn
) -> list[BulkResult]:
    decision = ReviewIn(decision=body.decision, ticket=body.ticket, comment=body.comment)
    return await change_reviews.review_many(db, outbox, who, body.ids, decision)


@router.get(
    "/{review_id}",
    response_model=ReviewDetail,
    summary="One review, with the configuration before and after",
    responses=problem_responses(404),
)
async def get_review(db: Db, _: Viewer, review_id: ReviewId) -> ReviewDetail:
    return await change_reviews.get_review(db, review_id)


@router.post(
    "/{review_id}/review",
    response_model=ReviewView,
    summary="Approve with a ticket, or reject as unauthorized (reviewer, auditor or admin)",
    responses=problem_responses(404, 409),
)
async def review(
    db: Db, outbox: OutboxDep, who: Reviewer, review_id: ReviewId, body: ReviewIn
) -> ReviewView:
    return await change_reviews.review(db, outbox, who, review_id, body)
