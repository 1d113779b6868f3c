"""An SMTP relay that took the message and never replied: the outcome is unknown (the
relay may deliver it), so the next attempt waits as for a webhook that did not answer,
and every attempt carries one Message-ID for mailboxes to fold the copies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from secmonkey.common.documents import Channel
from tests.integration.notifier.conftest import make_event, subscription, until
from tests.support.servers import SmtpSink

pytestmark = pytest.mark.integration

QUICK = {"smtp_timeout": 0.5, "ambiguous_retry_seconds": 3.0}


async def test_a_relay_that_hangs_after_the_message_gets_it_at_most_twice(
    start_notifier: Any, smtp_sink: SmtpSink
) -> None:
    smtp_sink.hung.set()
    sub = subscription(Channel(type="email", to=["oncall@example.com"]))
    event = make_event()
    try:
        async with start_notifier(
            [sub], smtp_host=smtp_sink.host, smtp_port=smtp_sink.port, **QUICK
        ) as h:
            await h.publish(event)
            assert await until(
                lambda: h.db.deliveries.count_documents({"attempts.outcome": "unknown"})
            )
            await asyncio.sleep(1.0)  # hung for longer than an attempt
            smtp_sink.hung.clear()
            assert await until(lambda: h.deliveries(event_id=event.event_id, status="delivered"))
            await asyncio.sleep(0.5)  # a third copy would show up here
            [delivery] = await h.deliveries(event_id=event.event_id)
    finally:
        smtp_sink.hung.clear()

    assert [a["outcome"] for a in delivery["attempts"]] == ["unknown", "delivered"]
    first = delivery["attempts"][0]
    assert (first["next_at"] - first["at"]).total_seconds() >= QUICK["ambiguous_retry_seconds"]
    assert "no reply after the message was sent" in first["error"]
    assert len(smtp_sink.messages) == 2
    dot_id = delivery["_id"].replace(":", ".")
    assert {m["Message-ID"] for m in smtp_sink.messages} == {f"<{dot_id}@secmonkey>"}


async def test_a_relay_that_refuses_connections_is_an_ordinary_retry(
    start_notifier: Any,
) -> None:
    down = SmtpSink()  # never started: connections are refused
    sub = subscription(Channel(type="email", to=["oncall@example.com"]))
    event = make_event()
    async with start_notifier([sub], smtp_host=down.host, smtp_port=down.port, **QUICK) as h:
        await h.publish(event)
        assert await until(lambda: h.db.deliveries.count_documents({"attempts.outcome": "retry"}))
        [delivery] = await h.deliveries(event_id=event.event_id)
    assert "unknown" not in [a["outcome"] for a in delivery["attempts"]]
