"""Headlines, subjects and links: what a person reads first, in every channel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from secmonkey.common.messages import Event, IssueRef
from secmonkey.common.severity import Severity
from secmonkey.notifier.notices import Notice, digest_subject, group_link, headline, subject


def event(
    type_: str = "issue.opened", severity: Severity | None = Severity.HIGH, **kw: Any
) -> Event:
    issue = (
        IssueRef(
            issue_id="i",
            rule_id="internet-admin-port",
            severity=severity,
            message="tcp/22 opened to 0.0.0.0/0",
            status="open",
        )
        if severity
        else None
    )
    fields: dict[str, Any] = {
        "event_id": "e1",
        "type": type_,
        "key": "aws:123456789012:us-east-1:sg-1",
        "account_id": "123456789012",
        "account_name": "prod",
        "region": "us-east-1",
        "group_id": "sg-1",
        "name": "web-sg",
        "at": datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        "issue": issue,
    }
    fields.update(kw)
    return Event(**fields)


def test_issue_subject_says_what_happened_and_where() -> None:
    assert subject(event()) == (
        "[secmonkey] HIGH: tcp/22 opened to 0.0.0.0/0 on web-sg (prod, us-east-1)"
    )
    assert headline(event("issue.reopened", Severity.CRITICAL)).startswith("CRITICAL (reopened): ")
    assert headline(event("issue.fixed")).startswith("FIXED: tcp/22 opened")


def test_an_escalation_says_from_which_severity() -> None:
    escalated = event("issue.escalated", Severity.CRITICAL)
    assert escalated.issue is not None
    assert headline(escalated).startswith("CRITICAL (escalated): tcp/22 opened")
    escalated.issue.previous_severity = Severity.HIGH
    assert subject(escalated) == (
        "[secmonkey] CRITICAL (escalated from high): tcp/22 opened to 0.0.0.0/0"
        " on web-sg (prod, us-east-1)"
    )


def test_group_headlines() -> None:
    changed = event("group.changed", None, changes=["a added", "b removed", "c changed"])
    assert headline(changed) == "CHANGED: web-sg (prod, us-east-1): a added and 2 more"
    assert headline(event("group.deleted", None)) == "DELETED: web-sg (sg-1) (prod, us-east-1)"
    assert headline(event("group.created", None, account_name=None)) == (
        "NEW GROUP: web-sg (sg-1) (123456789012, us-east-1)"
    )


def test_subject_is_one_line_and_bounded() -> None:
    long = event(name="x\n" * 300)
    text = subject(long)
    assert "\n" not in text and len(text) <= 250


def test_link_points_at_the_group_in_the_api() -> None:
    assert group_link("https://sm.example.com/", event()) == (
        "https://sm.example.com/api/v1/groups/sg-1?account_id=123456789012&region=us-east-1"
    )


def test_facts_name_account_region_vpc_group() -> None:
    notice = Notice.of(event(vpc_id="vpc-9"), "https://sm")
    facts = {f.title: f.value for f in notice.facts}
    assert facts["Account"] == "prod (123456789012)"
    assert facts["VPC"] == "vpc-9" and facts["Group"] == "web-sg (sg-1)"
    assert facts["Severity"] == "high" and facts["Rule"] == "internet-admin-port"


def test_digest_subject_counts_by_severity() -> None:
    events = [event(), event(), event(severity=Severity.CRITICAL), event("group.changed", None)]
    assert digest_subject("PCI", events) == "[secmonkey] PCI: 4 events (1 critical, 2 high)"
    assert digest_subject("PCI", [event("group.changed", None)]) == "[secmonkey] PCI: 1 event"
