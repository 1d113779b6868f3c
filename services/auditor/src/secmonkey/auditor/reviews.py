"""Change reviews on commit: every revision of a group in a compliance scope (before or
after the change) gets a pending review, stored with the revision and before the item
commits; its `change.pending` event goes through the outbox with the commit's other
events, so it is never lost. A scope's auto-approval rule approves it at once.

Also here: CloudTrail callers that arrive after a sweep recorded the revision (attached
to it and to its review), and the overdue scan (`change.overdue`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from secmonkey.auditor.decide import Work
from secmonkey.auditor.outbox import Outbox
from secmonkey.auditor.revisions import revision_doc
from secmonkey.auditor.rule_context import Directory
from secmonkey.common import change_reviews
from secmonkey.common.change_reviews import ChangeReview
from secmonkey.common.compliance_scopes import Scope, load_scopes, scopes_of_config
from secmonkey.common.dates import aware
from secmonkey.common.messages import Caller, Event, utcnow
from secmonkey.common.storage import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    """The scopes and every account's labels, as of one read."""

    scopes: tuple[Scope, ...]
    labels: dict[str, list[str]]


class Reviews:
    def __init__(self, store: Store, ttl: float = 5.0) -> None:
        self.store = store
        self.ttl = ttl
        self._policy: tuple[float, Policy] | None = None

    async def policy(self) -> Policy:
        now = time.monotonic()
        if self._policy is not None and self._policy[0] > now:
            return self._policy[1]
        scopes = await load_scopes(self.store.db)
        labels = {
            str(d["_id"]): list(d.get("labels") or [])
            async for d in self.store.db.accounts.find({}, {"_id": 1, "labels": 1})
        }
        policy = Policy(tuple(scopes), labels)
        self._policy = (now + self.ttl, policy)
        return policy

    async def on_commit(self, work: list[Work], directory: Directory) -> list[Event]:
        """Store the reviews of `work`'s revisions; their events (to store with the rest)."""
        revisions = [w for w in work if w.is_revision]
        if not revisions:
            return []
        policy = await self.policy()
        if not policy.scopes:
            return []
        now = utcnow()
        made: list[tuple[ChangeReview, Scope | None, str | None]] = []
        for w in revisions:
            labels = policy.labels.get(w.account_id, [])
            after = [] if w.kind == "deleted" else scopes_of_config(policy.scopes, labels, w.config)
            before = (
                scopes_of_config(policy.scopes, labels, w.previous["config"]) if w.previous else []
            )
            if w.kind == "deleted":
                after = before
            names = sorted(set(after) | set(before))
            if not names:
                continue
            chosen = [s for s in policy.scopes if s.name in names]
            review = change_reviews.new_review(
                revision_doc(w),
                name=w.config.name,
                account_name=directory.account_name(w.account_id),
                vpc_id=w.config.vpc_id,
                scopes=names,
                left_scopes=sorted(set(before) - set(after)),
                review_hours=min(s.review_hours for s in chosen),
                now=now,
            )
            rule, ticket = auto_approval(chosen, w)
            made.append((review, rule, ticket))
        if not made:
            return []
        await self.store.insert("change_reviews", [r.to_mongo() for r, _, _ in made])
        stored = await self.store.read("change_reviews", [r.id for r, _, _ in made])
        events: list[Event] = []
        for review, rule, ticket in made:
            current = ChangeReview.model_validate(stored.get(review.id) or review.to_mongo())
            if current.status == "pending" and rule is not None and ticket is not None:
                try:
                    _, decided = await change_reviews.decide(
                        self.store.db,
                        current.id,
                        status="approved",
                        reviewer=f"auto-approval: {rule.name}",
                        ticket=ticket,
                        comment=f"changed by {current.changed_by}, a listed deploy principal",
                        auto=True,
                        now=now,
                    )
                except change_reviews.AlreadyDecided:
                    decided = []
                events.extend(decided)
            elif current.status == "pending":
                events.append(change_reviews.review_event(current, "change.pending", now))
        return events

    async def attach_callers(self, found: list[tuple[str, int, datetime, list[Caller]]]) -> int:
        """Attach CloudTrail callers that arrived after a sweep recorded the revision
        (`found`: key, current seq, the revision's time, callers): to the revision when
        the call happened before it was observed, and to its review. How many attached."""
        attached = 0
        ids = [f"{key}:{seq}" for key, seq, _, _ in found]
        revisions = await self.store.read("revisions", ids, {"observed_at": 1, "seq": 1, "key": 1})
        for key, seq, _, callers in found:
            rid = f"{key}:{seq}"
            rev = revisions.get(rid)
            if rev is None:
                continue
            observed = aware(rev["observed_at"])
            earlier = await self.store.db.revisions.find_one(
                {"_id": f"{key}:{seq - 1}"}, {"observed_at": 1}
            )
            since = aware(earlier["observed_at"]) if earlier else None
            matching = [
                c
                for c in callers
                if c.at is not None
                and aware(c.at) <= observed
                and (since is None or aware(c.at) > since)
            ]
            if not matching:
                continue
            docs = [c.model_dump(mode="python") for c in matching]
            await self.store.db.revisions.update_one(
                {"_id": rid}, {"$addToSet": {"attached_callers": {"$each": docs}}}
            )
            await self.store.db.change_reviews.update_one(
                {"_id": rid}, {"$addToSet": {"callers": {"$each": docs}}}
            )
            first = next((c.arn for c in matching if c.arn), None)
            if first is not None:
                await self.store.db.change_reviews.update_one(
                    {"_id": rid, "changed_by": None}, {"$set": {"changed_by": first}}
                )
            attached += 1
        return attached

    async def raise_overdue(self, outbox: Outbox, now: datetime | None = None) -> list[Event]:
        """`change.overdue` for each pending review past its deadline (once each): stored
        in the outbox before the review is marked, so none is lost; the events."""
        now = now or utcnow()
        overdue = await change_reviews.find_overdue(self.store.db, now)
        events = [change_reviews.review_event(r, "change.overdue", now) for r in overdue]
        await outbox.store(events)
        await change_reviews.mark_overdue(self.store.db, overdue, now)
        return events


def auto_approval(scopes: list[Scope], work: Work) -> tuple[Scope | None, str | None]:
    """The scope whose auto-approval rule approves `work`, and the ticket it found."""
    tags = dict(work.config.tags)
    for scope in scopes:
        for rule in scope.auto_approvals:
            for caller in work.callers:
                ticket = rule.ticket_for(caller.arn, tags)
                if ticket is not None:
                    return scope, ticket
    return None, None
