"""Bounded duplicates (issue #14): receivers that hang, receivers that refuse, against real
HTTP receivers on loopback, with the waits shortened."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from secmonkey.common import webhooks
from secmonkey.common.documents import Channel
from tests.integration.notifier.conftest import make_event, subscription, take_down, until
from tests.support.servers import HttpReceiver, Received

pytestmark = pytest.mark.integration

SECRET = "a-generic-secret-16+"
# An attempt gives up after 0.5 s; after one that went unanswered, the next waits 3 s.
HANGING = {"webhook_timeout": 0.5, "smtp_timeout": 0.5, "ambiguous_retry_seconds": 3.0}


def hanging_until(recovered: threading.Event) -> HttpReceiver:
    """A receiver that accepts and reads every request but answers none until `recovered`,
    then answers all of them (the backlog included) with 200."""

    def respond(n: int, r: Received) -> tuple[int, dict[str, str]]:
        recovered.wait(60)
        return 200, {}

    return HttpReceiver(respond).start()


def channel(kind: str, receiver: HttpReceiver) -> Channel:
    if kind == "generic":
        return Channel(type="generic", url=f"{receiver.url}/hook", secret=SECRET)
    return Channel(type=kind, url=f"{receiver.url}/services/T0/B0/token")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["generic", "slack"])
async def test_a_receiver_that_hangs_then_recovers_gets_the_alert_at_most_twice(
    start_notifier: Any, kind: str
) -> None:
    """The receiver hung for 90 s and got one alert five times; now at most one duplicate,
    and every copy carries the same id for the receiver to drop it."""
    recovered = threading.Event()
    receiver = hanging_until(recovered)
    event = make_event()
    try:
        async with start_notifier([subscription(channel(kind, receiver))], **HANGING) as h:
            await h.publish(event)
            assert await until(lambda: _attempts(h, "unknown", 1))
            # hung for well over the attempt timeout, and for longer than retries used to wait
            await asyncio.sleep(1.0)
            recovered.set()
            assert await until(lambda: _status(h, "delivered"))
            await asyncio.sleep(0.5)  # a third copy would show up here
            [delivery] = await h.deliveries()
    finally:
        recovered.set()
        receiver.stop()

    assert len(receiver.received) == 2
    assert [a["outcome"] for a in delivery["attempts"]] == ["unknown", "delivered"]
    first = delivery["attempts"][0]
    assert (first["next_at"] - first["at"]).total_seconds() >= HANGING["ambiguous_retry_seconds"]
    assert "may have been received" in first["error"]
    if kind == "generic":
        ids = {(r.json()["id"], r.headers["webhook-id"]) for r in receiver.received}
        assert ids == {(event.event_id, event.event_id)}
        for got in receiver.received:
            Webhook(webhooks.standard_secret(SECRET)).verify(got.body, got.headers)


@pytest.mark.parametrize("kind", ["slack", "teams"])
async def test_slack_and_teams_get_at_most_two_posts_of_an_alert(
    start_notifier: Any, kind: str
) -> None:
    """Neither drops duplicates: after an unanswered post, one more, then the undelivered queue."""
    recovered = threading.Event()
    receiver = hanging_until(recovered)
    event = make_event()
    try:
        async with start_notifier(
            [subscription(channel(kind, receiver))], **HANGING, retry_max_seconds=0.2
        ) as h:
            await h.publish(event)
            assert await until(lambda: _status(h, "failed"))
            [delivery] = await h.deliveries()
            [dead] = await h.undelivered()
            await asyncio.sleep(0.5)  # a third post would show up here
    finally:
        recovered.set()
        receiver.stop()

    assert len(receiver.received) == 2
    assert [a["outcome"] for a in delivery["attempts"]] == ["unknown", "unknown"]
    reason = dead.headers["x-secmonkey-reason"]
    assert f"{kind} does not drop duplicates" in reason
    assert json.loads(dead.body)["event_ids"] == [event.event_id]
    assert delivery["last_error"] == reason and delivery["dead_lettered"] is True


async def test_a_receiver_refusing_connections_is_retried_until_the_alert_is_too_old(
    start_notifier: Any,
) -> None:
    """Nothing reaches it, so it is retried soon and often; past the maximum age the alert
    waits in the undelivered queue with the reason."""
    receiver = HttpReceiver()
    port = take_down(receiver)
    sub = subscription(Channel(type="generic", url=f"http://127.0.0.1:{port}/hook", secret=SECRET))
    event = make_event()
    async with start_notifier([sub], delivery_max_age_seconds=2.0) as h:
        await h.publish(event)
        assert await until(lambda: _status(h, "failed"))
        [delivery] = await h.deliveries()
        [dead] = await h.undelivered()

    assert delivery["attempt_count"] >= 2
    assert {a["outcome"] for a in delivery["attempts"][:-1]} == {"retry"}
    assert delivery["attempts"][-1]["outcome"] == "failed"
    reason = dead.headers["x-secmonkey-reason"]
    assert reason.startswith(f"gave up after {delivery['attempt_count']} attempts")
    assert "nothing sent" in reason and "Connection refused" in reason
    body = json.loads(dead.body)
    assert body["reason"] == reason and body["event_ids"] == [event.event_id]


async def _status(h: Any, status: str) -> bool:
    return await h.db.deliveries.count_documents({"status": status}) >= 1


async def _attempts(h: Any, outcome: str, count: int) -> bool:
    return await h.db.deliveries.count_documents({"attempts.outcome": outcome}) >= count
