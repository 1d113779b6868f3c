"""An issue as it is shown (the REST API's `IssueView`), and report rows: issues already
written in that shape, so a report of every open issue is read and sent without building
a model per issue.

A report row is one open issue as `<severity rank>\\t<issue id>\\t<IssueView JSON>`: what
the report sorts on, then what it sends. The auditor's recount writes each account-region's
rows (`issue_counters`, one text per place, one row per line: compact JSON holds no raw tab
or newline); the full JSON report merges them and joins their JSON; the HTML and CSV
reports validate the JSON into views a batch at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, TypeAdapter

from secmonkey.common.documents import Issue, IssueStatus, Justification
from secmonkey.common.severity import Severity


class IssueView(BaseModel):
    id: str
    key: str
    group_id: str
    group_name: str
    account_id: str
    region: str
    vpc_id: str | None = None
    rule_id: str
    rule_text: str
    severity: Severity
    message: str
    compliance: list[str]
    status: IssueStatus
    opened_at: datetime
    fixed_at: datetime | None = None
    last_seen: datetime
    reopened: int = 0
    justification: Justification | None = None

    @classmethod
    def of(cls, issue: Issue) -> IssueView:
        return cls(**issue.model_dump(by_alias=False, exclude={"severity_rank"}))


_VIEWS = TypeAdapter(list[IssueView])


class Row(NamedTuple):
    """One issue of a report: its order (most severe first, then by id) and its JSON."""

    rank: int
    id: str
    json: bytes


def as_views(docs: Iterable[dict[str, Any]]) -> list[IssueView]:
    """Stored issues (`_id`, the fields an `IssueView` has and maybe more) as views."""
    return _VIEWS.validate_python([{**doc, "id": doc["_id"]} for doc in docs])


def rows_of(docs: list[dict[str, Any]]) -> list[Row]:
    """Stored issues as report rows (validated into views once, serialised each)."""
    return [
        Row(int(doc["severity_rank"]), str(doc["_id"]), view.model_dump_json().encode())
        for doc, view in zip(docs, as_views(docs), strict=True)
    ]


def rows_text(rows: Iterable[Row]) -> str:
    """Rows as one text, a row per line."""
    return "\n".join(f"{r.rank}\t{r.id}\t{r.json.decode()}" for r in rows)


def text_rows(text: str) -> list[Row]:
    """The rows `rows_text` wrote."""
    rows = []
    for line in text.splitlines():
        rank, issue_id, shown = line.split("\t", 2)
        rows.append(Row(int(rank), issue_id, shown.encode()))
    return rows


def rows_json(rows: Iterable[Row]) -> bytes:
    """Rows as JSON objects separated by commas (a list without its brackets)."""
    return b",".join(r.json for r in rows)


def rows_views(rows: list[Row]) -> list[IssueView]:
    """Rows as views (one validation of their JSON)."""
    return _VIEWS.validate_json(b"[" + rows_json(rows) + b"]")
