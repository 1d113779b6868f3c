"""Change reviews: one record per revision of an in-scope group (`change_reviews`, owned
by the auditor, which creates them pending with the revision), decided by a person or a
ticketing system through the API, or automatically by a scope's auto-approval rule.

Every decision is also appended to the group's review chain (`review_chain`, written by
`secmonkey.common.review_chain`, which also repairs a decision a crash left out of it):
an immutable record at position n holding the hash of record n-1. The position is the record's `_id` (`<key>:<n>`, unique), so two deciders racing on
one group cannot both take position n: the loser reads the new head and tries n+1. The
review's `_id` is unique in the chain too, so deciding the same review again never
appends twice.

A rejection opens a high `unauthorized-change` issue on the group (stored in `issues`
beside the rule findings, not in the item's `issue_ids`, so the next audit does not
close it) and raises `change.rejected`, which subscriptions route like any alert.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from secmonkey.common import place_rosters
from secmonkey.common.documents import Doc, Issue, issue_id
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.messages import Caller, ChangeRef, Event, IssueRef, utcnow
from secmonkey.common.review_chain import append_decision
from secmonkey.common.severity import SEVERITY_RANK, Severity
from secmonkey.common.storage import Database, insert_unique

ReviewStatus = Literal["pending", "approved", "rejected"]
UNAUTHORIZED_RULE = "unauthorized-change"
TICKET_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,99}$"


class ChangeReview(Doc):
    """`change_reviews`: the review of one revision. `_id` is the revision's `<key>:<seq>`."""

    id: str = Field(alias="_id")
    key: str
    seq: int
    account_id: str
    account_name: str | None = None
    region: str
    vpc_id: str | None = None
    group_id: str
    name: str
    change_type: str
    changes: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(description="the scopes the group is in, before or after")
    left_scopes: list[str] = Field(
        default_factory=list, description="scopes this change took the group out of"
    )
    observed_at: datetime
    created_at: datetime
    deadline: datetime
    callers: list[Caller] = Field(default_factory=list)
    changed_by: str | None = Field(default=None, description="the first caller's ARN")
    status: ReviewStatus = "pending"
    ticket: str | None = None
    reviewer: str | None = None
    comment: str | None = None
    decided_at: datetime | None = None
    auto: bool = False
    overdue_at: datetime | None = None


class SelfReview(Exception):
    """The reviewer is the principal who made the change."""


class AlreadyDecided(Exception):
    def __init__(self, review: ChangeReview) -> None:
        super().__init__(f"review {review.id} is already {review.status}")
        self.review = review


def principal_names(arn: str | None) -> set[str]:
    """The names an AWS principal goes by: the ARN, and its user or role session name."""
    if not arn:
        return set()
    names = {arn.lower()}
    tail = arn.rsplit("/", 1)[-1] if "/" in arn else ""
    if tail:
        names.add(tail.lower())
    return names


def is_self_review(review: ChangeReview, reviewer: str) -> bool:
    """Whether `reviewer` (a key's name or a person's login) made the change."""
    who = reviewer.lower()
    local = who.split("@", 1)[0]
    for caller in review.callers:
        names = principal_names(caller.arn)
        if who in names or local in names:
            return True
    return False


def change_event_id(review_id: str, event_type: str) -> str:
    text = f"change\x1f{review_id}\x1f{event_type}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def review_event(review: ChangeReview, event_type: str, at: datetime) -> Event:
    """The `change.*` event about `review`, with an id derived from it (a redo is the same)."""
    return Event(
        event_id=change_event_id(review.id, event_type),
        type=event_type,
        key=review.key,
        account_id=review.account_id,
        account_name=review.account_name,
        region=review.region,
        vpc_id=review.vpc_id,
        group_id=review.group_id,
        name=review.name,
        at=at,
        seq=review.seq,
        changes=review.changes,
        callers=review.callers,
        change=ChangeRef(
            review_id=review.id,
            status=review.status,
            scopes=review.scopes,
            ticket=review.ticket,
            reviewer=review.reviewer,
            comment=review.comment,
            changed_by=review.changed_by,
            deadline=review.deadline,
            auto=review.auto,
        ),
    )


def new_review(
    revision: dict[str, Any],
    *,
    name: str,
    account_name: str | None,
    vpc_id: str | None,
    scopes: list[str],
    left_scopes: list[str],
    review_hours: float,
    now: datetime,
) -> ChangeReview:
    """A pending review of `revision` (a `revisions` document)."""
    callers = [Caller.model_validate(c) for c in revision.get("callers") or []]
    return ChangeReview(
        id=revision["_id"],
        key=revision["key"],
        seq=revision["seq"],
        account_id=revision["account_id"],
        account_name=account_name,
        region=revision["region"],
        vpc_id=vpc_id,
        group_id=revision["group_id"],
        name=name,
        change_type=revision["change_type"],
        changes=list(revision.get("changes") or []),
        scopes=scopes,
        left_scopes=left_scopes,
        observed_at=revision["observed_at"],
        created_at=now,
        deadline=revision["observed_at"] + timedelta(hours=review_hours),
        callers=callers,
        changed_by=next((c.arn for c in callers if c.arn), None),
    )


async def append_to_chain(db: Database, review: ChangeReview) -> dict[str, Any]:
    """Append the decision of `review` to its group's review chain (once), after any
    decision of the group a crash left out (`secmonkey.common.review_chain`)."""
    return await append_decision(db, review.to_mongo())


async def decide(
    db: Database,
    review_id: str,
    *,
    status: Literal["approved", "rejected"],
    reviewer: str,
    ticket: str | None,
    comment: str | None,
    auto: bool = False,
    now: datetime | None = None,
) -> tuple[ChangeReview, list[Event]]:
    """Approve or reject a pending review; the review as decided and its events (to store
    and publish). `SelfReview` if the reviewer made the change, `AlreadyDecided` if it is
    no longer pending."""
    now = now or utcnow()
    doc = await db.change_reviews.find_one({"_id": review_id})
    if doc is None:
        raise NotFound(f"no change review {review_id}")
    review = ChangeReview.model_validate(doc)
    if review.status != "pending":
        raise AlreadyDecided(review)
    if not auto and is_self_review(review, reviewer):
        raise SelfReview(f"{reviewer} made this change and cannot review it")
    if status == "approved" and not ticket:
        raise InvalidInput("an approval needs a change-ticket reference")
    fields = ChangeReview.fields(
        status=status,
        reviewer=reviewer,
        ticket=ticket,
        comment=comment,
        decided_at=now,
        auto=auto,
    )
    updated = await db.change_reviews.find_one_and_update(
        {"_id": review_id, "status": "pending"}, {"$set": fields}, return_document=True
    )
    if updated is None:
        again = await db.change_reviews.find_one({"_id": review_id})
        raise AlreadyDecided(ChangeReview.model_validate(again or doc))
    review = ChangeReview.model_validate(updated)
    await append_to_chain(db, review)
    events = [review_event(review, f"change.{status}", now)]
    if status == "rejected":
        events.append(await open_unauthorized_issue(db, review, now))
    return review, events


async def open_unauthorized_issue(db: Database, review: ChangeReview, now: datetime) -> Event:
    """Store the high `unauthorized-change` issue of a rejected review; its `issue.opened`."""
    what = review.changes[0] if review.changes else review.change_type
    iid = issue_id(review.key, UNAUTHORIZED_RULE, review.id)
    issue = Issue(
        id=iid,
        key=review.key,
        account_id=review.account_id,
        region=review.region,
        group_id=review.group_id,
        group_name=review.name,
        vpc_id=review.vpc_id,
        rule_id=UNAUTHORIZED_RULE,
        rule_text=review.id,
        severity=Severity.HIGH,
        severity_rank=SEVERITY_RANK[Severity.HIGH],
        message=f"unauthorized change (revision {review.seq}): {what}",
        compliance=list(review.scopes),
        opened_at=now,
        last_seen=now,
    )
    await place_rosters.log_issue(db, review.account_id, review.region, iid)
    await insert_unique(db.issues, issue.to_mongo())
    ref = IssueRef(
        issue_id=iid,
        rule_id=UNAUTHORIZED_RULE,
        severity=Severity.HIGH,
        message=issue.message,
        rule_text=review.id,
        compliance=issue.compliance,
        status="open",
    )
    return Event(
        event_id=change_event_id(review.id, "issue.opened"),
        type="issue.opened",
        key=review.key,
        account_id=review.account_id,
        account_name=review.account_name,
        region=review.region,
        vpc_id=review.vpc_id,
        group_id=review.group_id,
        name=review.name,
        at=now,
        seq=review.seq,
        issue=ref,
        callers=review.callers,
    )


async def find_overdue(db: Database, now: datetime, limit: int = 500) -> list[ChangeReview]:
    """Pending reviews past their deadline not yet reported overdue."""
    query = {"status": "pending", "deadline": {"$lte": now}, "overdue_at": None}
    docs = await db.change_reviews.find(query).sort("deadline", 1).limit(limit).to_list(None)
    return [ChangeReview.model_validate(d) for d in docs]


async def mark_overdue(db: Database, reviews: Iterable[ChangeReview], now: datetime) -> None:
    for review in reviews:
        await db.change_reviews.update_one(
            {"_id": review.id}, {"$set": ChangeReview.fields(overdue_at=now)}
        )
