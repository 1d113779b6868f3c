"""`reconcile` on its own: which severity changes are heard, and with which event ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from secmonkey.auditor.events import issue_event_id
from secmonkey.auditor.issues import expiry_marker, reconcile
from secmonkey.auditor.rules.engine import Finding
from secmonkey.common import issue_counters
from secmonkey.common.severity import Severity

KEY = "aws:111111111111:eu-west-1:sg-1"
GROUP = {
    "_id": KEY,
    "account_id": "111111111111",
    "region": "eu-west-1",
    "group_id": "sg-1",
    "name": "web",
}
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IID = "issue-1"
JUSTIFICATION = {"by": "alice", "reason": "bastion", "until": None, "at": AT}


def finding(severity: Severity) -> Finding:
    return Finding(
        issue_id=IID,
        rule_id="internet-admin-port",
        severity=severity,
        message="tcp/22 open to 0.0.0.0/0",
        rule_text="ingress tcp/22 from 0.0.0.0/0",
        compliance=("CIS AWS Foundations 5.2",),
    )


def stored(severity: str, status: str = "open", **extra: Any) -> dict[str, Any]:
    return {
        "_id": IID,
        "key": KEY,
        "rule_id": "internet-admin-port",
        "rule_text": "ingress tcp/22 from 0.0.0.0/0",
        "severity": severity,
        "message": "tcp/22 open to 0.0.0.0/0",
        "compliance": ["CIS AWS Foundations 5.2"],
        "status": status,
        "justification": None,
        **extra,
    }


def run(doc: dict[str, Any], severity: Severity, marker: str = f"{KEY}:1@t1") -> Any:
    return reconcile(GROUP, marker, AT, [finding(severity)], {IID: doc})


def written(outcome: Any) -> dict[str, Any]:
    (write,) = outcome.writes
    fields: dict[str, Any] = write.change["$set"]
    return fields


def test_an_open_issue_whose_severity_rises_escalates() -> None:
    outcome = run(stored("high"), Severity.CRITICAL)
    (t,) = outcome.transitions
    assert (t.type, t.issue.status, t.issue.severity, t.issue.previous_severity) == (
        "issue.escalated",
        "open",
        Severity.CRITICAL,
        Severity.HIGH,
    )
    assert written(outcome)["severity"] == "critical"
    assert issue_counters.counters(outcome.statuses.values()) == {
        "open_issues": 1,
        "max_severity": "critical",
        "max_severity_rank": 4,
    }


def test_escalation_ids_are_deterministic_and_differ_per_observation() -> None:
    first = run(stored("high"), Severity.CRITICAL).transitions[0].event_id
    again = run(stored("high"), Severity.CRITICAL).transitions[0].event_id
    later = run(stored("high"), Severity.CRITICAL, marker=f"{KEY}:1@t2").transitions[0].event_id
    assert first == again != later


def test_redoing_the_same_work_re_emits_the_recorded_escalation() -> None:
    """After a crash between the issue write and the item commit: same id, same details."""
    first = run(stored("high"), Severity.CRITICAL)
    after = {**stored("high"), **written(first)}
    replay = run(after, Severity.CRITICAL)
    assert replay.writes == []
    assert replay.transitions == first.transitions


def test_a_drop_or_an_unchanged_severity_is_silent() -> None:
    dropped = run(stored("critical"), Severity.HIGH)
    assert dropped.transitions == []
    assert (written(dropped)["severity"], written(dropped).get("status")) == ("high", None)
    assert run(stored("high"), Severity.HIGH).transitions == []


def test_a_justified_issue_whose_severity_rises_loses_its_justification() -> None:
    outcome = run(stored("high", "justified", justification=JUSTIFICATION), Severity.CRITICAL)
    (t,) = outcome.transitions
    assert (t.type, t.issue.status, t.issue.previous_severity) == (
        "issue.escalated",
        "open",
        Severity.HIGH,
    )
    fields = written(outcome)
    assert (fields["status"], fields["justification"]) == ("open", None)
    assert fields["lapsed_justification"] == JUSTIFICATION
    assert issue_counters.counters(outcome.statuses.values())["open_issues"] == 1


def test_a_justified_issue_whose_severity_drops_stays_justified_and_silent() -> None:
    outcome = run(stored("critical", "justified", justification=JUSTIFICATION), Severity.HIGH)
    assert outcome.transitions == []
    assert "status" not in written(outcome)
    assert issue_counters.counters(outcome.statuses.values())["open_issues"] == 0


def test_an_expired_justification_with_a_rise_opens_once_with_the_expiry_id() -> None:
    """The periodic expiry task would use the same id: one event, not two."""
    until = AT - timedelta(minutes=1)
    doc = stored("high", "justified", justification={**JUSTIFICATION, "until": until})
    (t,) = run(doc, Severity.CRITICAL).transitions
    assert (t.type, t.issue.severity) == ("issue.opened", Severity.CRITICAL)
    assert t.event_id == issue_event_id(IID, "issue.opened", expiry_marker(IID, until))


def test_a_fixed_issue_that_returns_higher_is_a_regression() -> None:
    (t,) = run(stored("high", "fixed"), Severity.CRITICAL).transitions
    assert (t.type, t.issue.severity, t.issue.previous_severity) == (
        "issue.reopened",
        Severity.CRITICAL,
        None,
    )
