"""System events (secmonkey's own health) read well in every channel, with no group to name."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from secmonkey.common.documents import Channel, Subscription
from secmonkey.common.messages import Event, SystemRef
from secmonkey.common.severity import Severity
from secmonkey.notifier.channels import generic, slack, teams
from secmonkey.notifier.channels.base import Batch
from secmonkey.notifier.channels.email import render_digest, render_event
from secmonkey.notifier.enrichment import Enrichment
from secmonkey.notifier.notices import Notice, headline, subject


def overdue(type_: str = "system.sweep_overdue", **kw: Any) -> Event:
    fields: dict[str, Any] = {
        "event_id": "s1",
        "type": type_,
        "key": "system:sweep:111111111111",
        "account_id": "111111111111",
        "account_name": "prod",
        "at": datetime(2026, 3, 1, 12, 45, tzinfo=UTC),
        "system": SystemRef(
            subject="account prod (111111111111)",
            detail="no complete sweep since 2026-03-01 12:00 UTC (3 intervals of 15 minutes)",
            severity=Severity.HIGH,
            since=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        ),
    }
    fields.update(kw)
    return Event(**fields)


def undelivered() -> Event:
    return Event(
        event_id="s2",
        type="system.undelivered_growing",
        key="system:queue:notifier.events.undelivered",
        at=datetime(2026, 3, 1, 12, 45, tzinfo=UTC),
        system=SystemRef(
            subject="queue notifier.events.undelivered",
            detail="3 → 7 messages since the last check",
            severity=Severity.HIGH,
        ),
    )


def sub(kind: str) -> Subscription:
    channel = Channel(type=kind, url="https://h.example/x", secret="s", to=["ops@example.com"])  # type: ignore[arg-type]
    return Subscription(id="sub1", name="ops", channel=channel)


def one(event: Event) -> Batch:
    return Batch("s:sub1", "event", [Notice.of(event, "https://sm")], idempotency_key="s")


def test_headline_says_severity_what_and_which_subject() -> None:
    assert subject(overdue()) == "[secmonkey] HIGH: sweep overdue: account prod (111111111111)"
    assert headline(overdue("system.sweep_overdue_resolved")) == (
        "RESOLVED: sweep overdue: account prod (111111111111)"
    )
    assert headline(undelivered()) == (
        "HIGH: undelivered alerts growing: queue notifier.events.undelivered"
    )


def test_facts_and_link_of_a_system_event_name_no_group() -> None:
    notice = Notice.of(overdue(), "https://sm/")
    facts = {f.title: f.value for f in notice.facts}
    assert facts["Subject"] == "account prod (111111111111)"
    assert facts["Account"] == "prod (111111111111)"
    assert facts["Since"] == "2026-03-01 12:00:00 UTC" and facts["Severity"] == "high"
    assert facts["Detail"].startswith("no complete sweep since")
    assert not {"Group", "Region", "VPC"} & facts.keys()
    assert notice.link == (
        "https://sm/api/v1/events?type=system.sweep_overdue"
        "&type=system.sweep_overdue_resolved&account_id=111111111111"
    )
    queue = Notice.of(undelivered(), "https://sm")
    assert "Account" not in {f.title for f in queue.facts}
    assert "None" not in json.dumps([f.value for f in queue.facts])


def test_an_unknown_type_from_a_newer_producer_is_shown_by_type_and_key() -> None:
    newer = Event(
        event_id="n1",
        type="change.reviewed",
        key="change:42",
        at=datetime(2026, 3, 1, tzinfo=UTC),
        schema_version=3,
    )
    notice = Notice.of(newer, "https://sm")
    assert notice.headline == "CHANGE.REVIEWED: change:42"
    assert notice.link == "https://sm/api/v1/events?type=change.reviewed"


def test_email_renders_a_system_event_without_group_words() -> None:
    title, text, html = render_event(sub("email"), Notice.of(overdue(), "https://sm"), Enrichment())
    assert title.startswith("[secmonkey] HIGH: sweep overdue")
    for body in (text, html):
        assert "no complete sweep since" in body and "None" not in body
        assert "Open the group" not in body and "Its history in secmonkey" in body
    batch = Batch("d", "digest", [Notice.of(undelivered(), "https://sm")], idempotency_key="d")
    _, digest_text, digest_html = render_digest(sub("email"), batch)
    assert "3 → 7 messages" in digest_text and "None" not in digest_text + digest_html


def test_webhooks_carry_a_system_event_readably() -> None:
    body, _ = generic.build(sub("generic"), one(overdue()))
    cloud = json.loads(body)
    assert cloud["type"] == "io.secmonkey.system.sweep_overdue"
    assert cloud["data"]["system"]["detail"].startswith("no complete sweep")
    assert cloud["data"]["summary"] == "HIGH: sweep overdue: account prod (111111111111)"
    blocks = json.loads(slack.build(sub("slack"), one(overdue()))[0])["blocks"]
    shown = json.dumps(blocks)
    assert "sweep overdue" in shown and "no complete sweep" in shown and "None" not in shown
    card = json.loads(teams.build(sub("teams"), one(undelivered()))[0])
    facts = card["attachments"][0]["content"]["body"][1]["facts"]
    assert {"title": "Detail", "value": "3 → 7 messages since the last check"} in facts


def rejected() -> Event:
    from secmonkey.common.messages import ChangeRef

    return Event(
        event_id="c1",
        type="change.rejected",
        key="aws:111111111111:eu-west-1:sg-a",
        account_id="111111111111",
        account_name="prod",
        region="eu-west-1",
        group_id="sg-a",
        name="web",
        at=datetime(2026, 3, 1, 12, 45, tzinfo=UTC),
        changes=["+ ingress tcp/22 from 0.0.0.0/0"],
        change=ChangeRef(
            review_id="aws:111111111111:eu-west-1:sg-a:2",
            status="rejected",
            scopes=["pci"],
            reviewer="change-board",
            comment="no ticket",
        ),
    )


def test_a_rejected_change_reads_as_an_unauthorized_change_alert() -> None:
    event = rejected()
    assert event.severity == Severity.HIGH
    # its `change` payload is unknown to a version-2 reader: it goes out as the next version
    assert json.loads(event.model_dump_json())["schema_version"] == 3
    assert headline(event) == (
        "UNAUTHORIZED CHANGE [pci]: web (prod, eu-west-1): + ingress tcp/22 from 0.0.0.0/0"
    )
    facts = {f.title: f.value for f in Notice.of(event, "https://sm").facts}
    assert facts["Scopes"] == "pci" and facts["Review"] == "rejected"
    assert facts["Reviewer"] == "change-board" and facts["Comment"] == "no ticket"
    title, text, _ = render_event(sub("email"), Notice.of(event, "https://sm"), Enrichment())
    assert title.startswith("[secmonkey] UNAUTHORIZED CHANGE [pci]") and "change-board" in text
