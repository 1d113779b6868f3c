"""Every matching issue as OCSF, one finding per line (NDJSON), streamed.

Issues are read in pages of `PAGE` by `_id` (keyset pagination: each page is one indexed
range read, whatever the size of the estate), so the export of a large estate never holds
more than a page in memory. Titles and compliance tags come from the rule catalog when
the auditor published one (so every finding carries the rules' current tags), else from
the issue itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from secmonkey.api.queries.issues import IssueStatusFilter, compliance_filter
from secmonkey.api.queries.ocsf import FindingClass, finding
from secmonkey.common import rule_catalog
from secmonkey.common.documents import Issue
from secmonkey.common.severity import SEVERITY_RANK, Severity
from secmonkey.common.storage import Database, filters

PAGE = 500


def export_query(
    status: IssueStatusFilter,
    account_id: str | None,
    compliance: str | None,
    min_severity: Severity | None,
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if status != "all":
        query["status"] = status
    query |= filters.equals(account_id=account_id or None)
    if compliance:
        query["compliance"] = compliance_filter(compliance)
    if min_severity is not None:
        query["severity_rank"] = {"$gte": SEVERITY_RANK[min_severity.value]}
    return query


async def ocsf_lines(
    db: Database,
    kind: FindingClass,
    *,
    status: IssueStatusFilter = "all",
    account_id: str | None = None,
    compliance: str | None = None,
    min_severity: Severity | None = None,
    page: int = PAGE,
) -> AsyncIterator[bytes]:
    """Each matching issue as one OCSF finding (JSON) and a newline, by issue id."""
    catalog = {rule.id: rule for rule in await rule_catalog.read(db)}
    names = {
        str(d["_id"]): str(d.get("name") or "")
        for d in await db.accounts.find({}, {"name": 1}).to_list(None)
    }
    query = export_query(status, account_id, compliance, min_severity)
    after: str | None = None
    while True:
        page_query = query if after is None else {**query, "_id": {"$gt": after}}
        docs = await db.issues.find(page_query).sort("_id", 1).limit(page).to_list(page)
        for doc in docs:
            issue = Issue.model_validate(doc)
            rule = catalog.get(issue.rule_id)
            title = rule.title if rule is not None else issue.rule_id
            tags = list(rule.compliance) if rule is not None else list(issue.compliance)
            built = finding(kind, issue, title, tags, names.get(issue.account_id) or None)
            yield built.model_dump_json(exclude_none=True).encode() + b"\n"
        if len(docs) < page:
            return
        after = str(docs[-1]["_id"])
