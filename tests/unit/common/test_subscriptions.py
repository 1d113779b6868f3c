"""Subscription filters: who hears of which event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from secmonkey.common.documents import Channel, Subscription, SubscriptionFilters
from secmonkey.common.messages import Event, IssueRef, SystemRef
from secmonkey.common.severity import Severity
from secmonkey.common.subscriptions import matches, type_filter_known


def event(
    type_: str = "issue.opened", severity: Severity | None = Severity.HIGH, **kw: Any
) -> Event:
    issue = (
        IssueRef(
            issue_id="i1",
            rule_id=kw.pop("rule_id", "internet-admin-port"),
            severity=severity,
            message="tcp/22 open to 0.0.0.0/0",
            status="open",
        )
        if severity is not None
        else None
    )
    return Event(
        event_id="e1",
        type=type_,  # type: ignore[arg-type]
        key="aws:111111111111:us-east-1:sg-1",
        account_id=kw.pop("account_id", "111111111111"),
        region=kw.pop("region", "us-east-1"),
        group_id="sg-1",
        name="web",
        at=datetime(2025, 1, 1, tzinfo=UTC),
        issue=issue,
    )


def sub(**filters: Any) -> Subscription:
    return Subscription(
        _id="s1",
        name="s",
        filters=SubscriptionFilters(**filters),
        channel=Channel(type="generic", url="https://example.com/h", secret="x"),
    )


def test_no_filters_hears_everything() -> None:
    assert matches(sub(), event())
    assert matches(sub(), event("group.changed", severity=None))


def test_disabled_subscription_hears_nothing() -> None:
    s = sub().model_copy(update={"enabled": False})
    assert not matches(s, event())


def test_event_types_with_wildcards() -> None:
    assert matches(sub(event_types=["issue.opened"]), event())
    assert not matches(sub(event_types=["issue.fixed"]), event())
    assert matches(sub(event_types=["issue.*"]), event("issue.fixed"))
    assert not matches(sub(event_types=["group.*"]), event())
    assert matches(sub(event_types=["*"]), event())


def test_accounts_by_id_or_label() -> None:
    """A compliance team subscribed to the `pci` label hears of every PCI account."""
    pci = sub(account_labels=["pci"])
    assert matches(pci, event(), account_labels=["pci", "prod"])
    assert not matches(pci, event(), account_labels=["dev"])
    both = sub(account_ids=["222222222222"], account_labels=["pci"])
    assert matches(both, event(account_id="222222222222"), account_labels=[])
    assert matches(both, event(), account_labels=["pci"])
    assert not matches(both, event(), account_labels=[])


def test_regions() -> None:
    assert matches(sub(regions=["us-east-1"]), event())
    assert not matches(sub(regions=["eu-west-1"]), event())


def test_min_severity_excludes_lower_issues_and_group_events() -> None:
    """Chat hears only high-severity issues: not medium ones, not plain group changes."""
    chat = sub(min_severity="high")
    assert matches(chat, event(severity=Severity.HIGH))
    assert matches(chat, event(severity=Severity.CRITICAL))
    assert not matches(chat, event(severity=Severity.MEDIUM))
    assert not matches(chat, event("group.changed", severity=None))


def test_rule_ids() -> None:
    s = sub(rule_ids=["internet-all-ports"])
    assert matches(s, event(rule_id="internet-all-ports"))
    assert not matches(s, event(rule_id="internet-admin-port"))
    assert not matches(s, event("group.changed", severity=None))


def system_event(type_: str = "system.sweep_overdue", **kw: Any) -> Event:
    return Event(
        event_id="s1",
        type=type_,
        key=kw.pop("key", "system:sweep:111111111111"),
        account_id=kw.pop("account_id", "111111111111"),
        at=datetime(2025, 1, 1, tzinfo=UTC),
        system=SystemRef(
            subject="account prod (111111111111)",
            detail="no complete sweep",
            severity=kw.pop("severity", Severity.HIGH),
        ),
    )


def test_system_events_are_routed_by_type() -> None:
    overdue = system_event()
    assert matches(sub(event_types=["system.*"]), overdue)
    assert matches(sub(event_types=["system.sweep_overdue"]), overdue)
    assert matches(sub(event_types=["*"]), overdue)
    assert not matches(sub(event_types=["issue.*", "group.*"]), overdue)
    assert not matches(sub(event_types=["system.consumer_not_ready"]), overdue)


def test_an_account_filter_selects_the_system_events_of_its_accounts() -> None:
    overdue = system_event()  # about account 111111111111, every region of it
    assert matches(sub(account_ids=["111111111111"]), overdue)
    assert matches(sub(account_labels=["pci"]), overdue, ["pci"])
    assert not matches(sub(account_ids=["222222222222"]), overdue)
    assert matches(sub(account_ids=["111111111111"], regions=["eu-west-1"]), overdue)


def test_an_event_about_the_whole_system_passes_account_and_region_filters() -> None:
    # Undelivered alerts or a stuck consumer put every account's alerts at risk.
    queue = system_event(
        "system.undelivered_growing",
        key="system:queue:notifier.events.undelivered",
        account_id=None,
    )
    assert matches(sub(account_ids=["222222222222"], regions=["eu-west-1"]), queue)
    assert matches(sub(min_severity="high"), queue)
    assert not matches(sub(min_severity="critical"), queue)
    assert not matches(sub(rule_ids=["internet-admin-port"]), queue)


def test_type_filters_a_subscription_may_name() -> None:
    for pattern in ("*", "system.*", "issue.*", "group.changed", "system.sweep_overdue"):
        assert type_filter_known(pattern), pattern
    for pattern in ("admin.*", "change.*", "admin.key_created"):  # reserved in version 2
        assert type_filter_known(pattern), pattern
    for pattern in ("group.exploded", "billing.*", "system", "", "admin.", "Admin.X"):
        assert not type_filter_known(pattern), pattern
