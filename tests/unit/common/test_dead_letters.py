"""What an operator reads about a dead letter, and what a replayed message starts with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from secmonkey.common import amqp
from secmonkey.common.dead_letters import describe, identity, replay_headers

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass
class Received:
    body: bytes = b'{"kind": "snapshot_batch"}'
    headers: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    user_id: str | None = "collector"
    timestamp: datetime | None = T0
    routing_key: str | None = "aws.111111111111.us-east-1"
    content_type: str | None = "application/json"


def test_a_message_without_an_id_is_named_by_its_content_whatever_its_delivery_count() -> None:
    first = Received(headers={"x-delivery-count": 1, "k": "v"})
    again = Received(headers={"x-delivery-count": 7, "k": "v"})
    other = Received(body=b"{}", headers={"k": "v"})
    assert identity(first) == identity(again) != identity(other)
    assert identity(first).startswith("h-")
    assert identity(Received(message_id="ev-1")) == "ev-1"


def test_the_consumers_reason_and_the_original_publisher_are_shown() -> None:
    letter = describe(
        "auditor.snapshots",
        Received(
            headers={
                amqp.REASON_HEADER: "malformed message: sweep_id missing",
                amqp.PUBLISHED_BY_HEADER: "collector",
                amqp.DEAD_LETTERED_AT_HEADER: int(T0.timestamp() * 1000) + 60_000,
            },
            user_id="auditor",  # the copy was published by the consumer that dead-lettered it
        ),
    )
    assert letter.reason == "malformed message: sweep_id missing"
    assert letter.published_by == "collector"
    assert letter.age_seconds(datetime(2026, 1, 2, 3, 6, 5, tzinfo=UTC)) == 60.0


def test_a_message_the_broker_dead_lettered_says_why_and_when() -> None:
    death = {
        "reason": "delivery_limit",
        "queue": "notifier.events",
        "time": T0.replace(tzinfo=None),
    }
    letter = describe(
        "notifier.events",
        Received(headers={"x-death": [death], "x-first-death-reason": "delivery_limit"}),
    )
    assert "delivery limit" in letter.reason
    assert letter.dead_lettered_at == T0
    assert letter.published_by == "collector"
    assert letter.headers["x-death"][0]["time"] == T0.isoformat()


def test_a_replayed_message_carries_no_trace_of_its_death_or_deliveries() -> None:
    headers = replay_headers(
        Received(
            headers={
                "x-delivery-count": 3,
                "x-death": [{"reason": "rejected"}],
                "x-first-death-queue": "q",
                amqp.REASON_HEADER: "bad",
                amqp.SOURCE_QUEUE_HEADER: "q",
                "trace": "abc",
            }
        )
    )
    assert headers == {
        "trace": "abc",
        amqp.PUBLISHED_BY_HEADER: "collector",
        "x-secmonkey-replays": 1,
    }
    assert amqp.delivery_count(type("M", (), {"headers": headers})()) == 0  # type: ignore[arg-type]
