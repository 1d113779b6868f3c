"""Justifying a finding, and withdrawing a justification: the API's writes to the
auditor's `issues` (the auditor owns them; this is the one other way they change), each
followed by a recount of the group's counters (and a mark asking the auditor to
recompute its account-region's summary)."""

from __future__ import annotations

from secmonkey.common import issue_counters
from secmonkey.common.documents import Issue, Justification
from secmonkey.common.errors import NotFound
from secmonkey.common.storage import Store


class NotJustifiable(Exception):
    """The issue exists but is neither open nor justified."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(f"issue {issue.id} is {issue.status}")
        self.issue = issue


async def justify(store: Store, issue_id: str, justification: Justification) -> Issue:
    """Mark an open or justified issue justified; the issue as stored afterwards."""
    issues = store.db.issues
    result = await issues.update_one(
        {"_id": issue_id, "status": {"$in": ["open", "justified"]}},
        {"$set": Issue.fields(status="justified", justification=justification.model_dump())},
    )
    doc = await issues.find_one({"_id": issue_id})
    if doc is None:
        raise NotFound(f"no issue {issue_id}")
    issue = Issue.model_validate(doc)
    if result.matched_count == 0:
        raise NotJustifiable(issue)
    await issue_counters.recount(store, issue.key)
    await issue_counters.mark_summary(store.db, issue.key)
    return issue


async def withdraw(store: Store, issue_id: str) -> Issue:
    """Open a justified issue again; `NotFound` if it has no justification."""
    withdrawn = await store.db.issues.find_one_and_update(
        {"_id": issue_id, "status": "justified"},
        {"$set": Issue.fields(status="open"), "$unset": Issue.fields(justification="")},
    )  # no projection: FerretDB 1.24 does not implement `fields` on findAndModify
    if withdrawn is None:
        exists = await store.db.issues.find_one({"_id": issue_id}, {"_id": 1})
        raise NotFound(
            f"issue {issue_id} has no justification" if exists else f"no issue {issue_id}"
        )
    await issue_counters.recount(store, withdrawn["key"])
    await issue_counters.mark_summary(store.db, withdrawn["key"])
    return Issue.model_validate(withdrawn)
