"""The notifier's outbox entry: the notifier and the API's subscription test build it alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from secmonkey.common.delivery_schedule import Delivery, entry_doc, new_delivery
from secmonkey.common.documents import Channel, Subscription
from secmonkey.common.messages import Event

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FIELDS = {
    "_id", "kind", "subscription_id", "subscription_name", "channel", "target", "target_key",
    "event_id", "event_ids", "events_json", "summary", "status", "created_at", "at", "due_at",
    "attempt_count", "attempts", "last_error", "last_status_code", "delivered_at", "failed_at",
    "dead_lettered",
}  # fmt: skip


def event(event_id: str = "e1") -> Event:
    return Event(
        event_id=event_id,
        type="group.changed",
        key="aws:123456789012:us-east-1:sg-1",
        account_id="123456789012",
        region="us-east-1",
        group_id="sg-1",
        name="web-sg",
        at=NOW,
        changes=["+ ingress tcp/22 from 0.0.0.0/0"],
    )


def subscription(channel: Channel) -> Subscription:
    return Subscription(id="s1", name="secops", channel=channel)


MAIL = subscription(Channel(type="email", to=["a@example.com", "b@example.com"]))
HOOK = subscription(
    Channel(type="generic", url="https://hooks.example.com/path?token=x", secret="k" * 16)
)


def test_an_entry_names_its_target_without_secrets_and_counts_against_it() -> None:
    hook = entry_doc(new_delivery("d1", HOOK, [event()], NOW, kind="event", due_at=NOW, summary=""))
    assert "token" not in hook["target"] and "path" not in hook["target"]
    assert hook["target_key"] == hook["target"] and hook["channel"] == "generic"
    mail = entry_doc(new_delivery("d2", MAIL, [event()], NOW, kind="event", due_at=NOW, summary=""))
    assert mail["target"] == "a@example.com, b@example.com" and mail["target_key"] == "smtp"


def test_a_notifier_entry_reads_back_as_the_delivery_it_was() -> None:
    due = NOW + timedelta(seconds=30)
    events = [event("e1"), event("e2")]
    delivery = new_delivery(
        "digest:c:0", HOOK, events, NOW, kind="digest", due_at=due, summary="digest of 2 events"
    )
    doc = entry_doc(delivery)
    assert set(doc) == FIELDS
    assert doc["event_id"] is None and doc["event_ids"] == ["e1", "e2"]
    assert doc["status"] == "pending" and doc["due_at"] == due and doc["attempts"] == []
    read = Delivery.model_validate(doc)
    assert read == delivery and read.parsed_events() == events and not read.test


def test_a_test_entry_is_marked_in_the_outbox_but_not_in_the_delivery_record() -> None:
    delivery = new_delivery(
        "test-e1", MAIL, [event()], NOW, kind="event", due_at=NOW, summary="test", test=True
    )
    doc = entry_doc(delivery)
    assert set(doc) == FIELDS | {"test"} and doc["test"] is True
    assert Delivery.model_validate(doc).test
    assert "test" not in delivery.to_mongo()  # what `deliveries` records starts from
