"""Report rows hold each open issue already in the API's JSON shape: byte for byte what
validating the stored issue into an `IssueView` and serialising it gives, whatever the
issue holds, and read back in the order and shape they were written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest
from bson import tz_util
from pydantic import TypeAdapter

from secmonkey.common.issue_counters import in_report_order, most_severe
from secmonkey.common.issue_views import (
    IssueView,
    as_views,
    rows_json,
    rows_of,
    rows_text,
    rows_views,
    text_rows,
)

VIEWS = TypeAdapter(list[IssueView])


def stored(n: int, **fields: Any) -> dict[str, Any]:
    """An issue as the auditor stores it (with fields the view does not show)."""
    at = datetime(2026, 12, 1, 8, 30, 15, 123456, tzinfo=UTC) + timedelta(minutes=n)
    return {
        "_id": f"{n:032x}",
        "key": f"items:123456789012:eu-west-1:sg-{n:017x}",
        "account_id": "123456789012",
        "region": "eu-west-1",
        "group_id": f"sg-{n:017x}",
        "group_name": f'web\t«{n}» "quoted"',
        "vpc_id": "vpc-0123456789abcdef0",
        "rule_id": "internet-admin-port",
        "rule_text": "ingress tcp 22 from 0.0.0.0/0",
        "severity": "critical",
        "severity_rank": 4,
        "message": "SSH open to the internet\nsecond line\r\n",
        "compliance": ["cis-aws-5.2", "pci-dss-1.3.1"],
        "status": "open",
        "opened_at": at,
        "fixed_at": None,
        "last_seen": at + timedelta(days=1),
        "reopened": 2,
        "justification": None,
        "transition": {"marker": "x"},
    } | fields


VARIED = [
    stored(1),
    stored(2, vpc_id=None, compliance=[], severity="low", severity_rank=1),
    stored(
        3,
        severity="medium",
        severity_rank=2,
        justification={
            "by": "alice@example.com",
            "reason": "bastion, reviewed",
            "until": None,
            "at": datetime(2026, 11, 30, tzinfo=UTC),
            "event_id": "e-1",
        },
    ),
    stored(
        4,
        justification={
            "reason": "temporary",
            "by": "bob",
            "at": datetime(2026, 11, 29, 1, 2, 3, tzinfo=tz_util.utc),
            "until": datetime(2027, 1, 1, tzinfo=tz_util.utc),
        },
    ),
    # as the database client reads it (bson's UTC) rather than as written (datetime's UTC)
    stored(5, opened_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=tz_util.utc)),
    {k: v for k, v in stored(6).items() if k not in ("reopened", "fixed_at", "justification")},
]


def test_a_row_is_the_views_json_and_reads_back_as_written() -> None:
    rows = rows_of(VARIED)
    expected = VIEWS.dump_json(as_views(VARIED))
    assert b"[" + rows_json(rows) + b"]" == expected
    assert [(r.rank, r.id) for r in rows] == [(d["severity_rank"], d["_id"]) for d in VARIED]
    shown = json.loads(expected)
    assert "severity_rank" not in shown[0] and "transition" not in shown[0]
    assert shown[0]["opened_at"] == "2026-12-01T08:31:15.123456Z"

    # One text per place, a row per line, whatever tabs and newlines the issues hold.
    text = rows_text(rows)
    assert len(text.splitlines()) == len(VARIED)
    assert text_rows(text) == rows
    assert rows_views(text_rows(text)) == as_views(VARIED)


def test_places_merge_into_report_order() -> None:
    issues = [
        stored(n, severity_rank=n % 3, severity=["low", "medium", "high"][n % 3]) for n in range(30)
    ]
    places = [rows_of(most_severe(issues[p::3], 10)) for p in range(3)]
    merged = [r.id for r in in_report_order(places)]
    assert merged == [d["_id"] for d in most_severe(issues, 30)]


def test_an_issue_that_is_not_a_view_is_refused() -> None:
    broken = {k: v for k, v in stored(9).items() if k != "group_name"}
    with pytest.raises(pydantic.ValidationError):
        rows_of([stored(8), broken])
    assert rows_of([]) == [] and rows_text([]) == "" and text_rows("") == []
