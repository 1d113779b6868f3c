"""The review queue: pending changes in scope, one with its side-by-side diff and caller,
approve (one ticket for many) or reject. Deciding needs the auditor role, or the
`reviewer` role (a person whose single-sign-on groups map to it: these pages are all the
console shows them); a ticketing system decides through the REST API with a `reviewer`
key."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from secmonkey.api.deps import Db, OutboxDep
from secmonkey.api.queries.change_reviews import find_reviews, get_review, review, review_many
from secmonkey.api.schemas.change_control import REVIEW_ID_PATTERN, ReviewIn
from secmonkey.api.web.deps import Blank, ReviewerForm, ReviewReader
from secmonkey.api.web.rendering import render, root_of
from secmonkey.api.web.views import property_changes, rule_rows
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.errors import InvalidInput

router = APIRouter()
ReviewId = Annotated[str, Path(pattern=REVIEW_ID_PATTERN)]
Status = Literal["pending", "approved", "rejected"]


@router.get("/reviews")
async def queue(
    request: Request,
    db: Db,
    caller: ReviewReader,
    status: Annotated[Status | None, Blank, Query()] = None,
    scope: Annotated[str | None, Blank, Query(max_length=40)] = None,
) -> Response:
    items = await find_reviews(
        db, status=status or "pending", scope=scope, account_id=None, overdue=None, limit=200
    )
    return render(
        request,
        "reviews.html",
        caller.page(
            title="Change reviews",
            nav="reviews",
            items=items,
            status=status or "pending",
            scope=scope or "",
        ),
    )


def _group(config: dict[str, object] | None, like: dict[str, object]) -> CanonicalGroup:
    """The configuration on one side (an empty group where there is none)."""
    return CanonicalGroup.model_validate(
        config if config is not None else {**like, "rules": [], "tags": {}}
    )


@router.get("/reviews/{review_id}")
async def detail(request: Request, db: Db, caller: ReviewReader, review_id: ReviewId) -> Response:
    found = await get_review(db, review_id)
    like = found.after or found.before or {}
    old, new = _group(found.before, like), _group(found.after, like)
    return render(
        request,
        "review.html",
        caller.page(
            title=f"Review of {found.name} revision {found.seq}",
            nav="reviews",
            review=found,
            rows=rule_rows(old, new),
            properties=property_changes(old, new),
            names={},
        ),
    )


@router.post("/reviews/{review_id}/decide")
async def decide(
    request: Request,
    db: Db,
    outbox: OutboxDep,
    caller: ReviewerForm,
    review_id: ReviewId,
    decision: Annotated[Literal["approve", "reject"], Form()],
    ticket: Annotated[str, Form(max_length=100)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    body = _body(decision, ticket, comment)
    await review(db, outbox, caller.principal, review_id, body)
    return RedirectResponse(f"{root_of(request)}/reviews/{review_id}", status_code=303)


@router.post("/reviews/approve")
async def approve_many(
    request: Request,
    db: Db,
    outbox: OutboxDep,
    caller: ReviewerForm,
    ids: Annotated[list[str], Form(max_length=200)],
    ticket: Annotated[str, Form(max_length=100)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    results = await review_many(
        db, outbox, caller.principal, ids, _body("approve", ticket, comment)
    )
    items = await find_reviews(
        db, status="pending", scope=None, account_id=None, overdue=None, limit=200
    )
    return render(
        request,
        "reviews.html",
        caller.page(
            title="Change reviews",
            nav="reviews",
            items=items,
            status="pending",
            scope="",
            results=results,
        ),
    )


def _body(decision: Literal["approve", "reject"], ticket: str, comment: str) -> ReviewIn:
    if decision == "approve" and not ticket.strip():
        raise InvalidInput("an approval needs a change ticket (e.g. CHG-1234)")
    try:
        return ReviewIn(
            decision=decision, ticket=ticket.strip() or None, comment=comment.strip() or None
        )
    except ValueError:
        raise InvalidInput(f"ticket {ticket!r} is not a ticket reference") from None
